def test_zk_fixture_is_chrooted(zk, zk_admin, zk_root):
    zk.create("/hello", b"world")
    assert zk_admin.get(f"{zk_root}/hello")[0] == b"world"
