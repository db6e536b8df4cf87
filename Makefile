# The two commands of the README. Both run scripts/setup.sh first (venv, package, Java, ZooKeeper).
.PHONY: run test setup bench snapshots-update clean

run: setup
	.venv/bin/zkbench $(ARGS)

test: setup
	.venv/bin/python -m pytest -q $(PYTEST_ARGS)

setup:
	@sh scripts/setup.sh

bench: setup
	.venv/bin/python benchmarks/mirror.py --sizes 1000,10000,50000
	.venv/bin/python benchmarks/recipes.py
	.venv/bin/python benchmarks/shell.py
	.venv/bin/python benchmarks/demo_invariants.py

snapshots-update: setup
	.venv/bin/python -m pytest -q tests --snapshot-update -k snapshot

clean:
	rm -rf .venv build *.egg-info .pytest_cache
