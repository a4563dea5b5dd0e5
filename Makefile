# Every command of the project. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
export PYTHONPATH := $(CURDIR)
SERVICES := user_svc product_svc order_svc cart_svc gateway_svc
# PostgreSQL and Redis the tests use (a real server; never mocked).
export TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
export TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: help install run test test-stack tools lint fmt proto event-schemas requirements dashboards bench load fault faults up down down-volumes certs clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(PY) requirements/dev.txt shopkit/pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --python $(PY) --quiet -r requirements/dev.txt
	$(BIN)/uv pip install --python $(PY) --quiet --no-deps -e ./shopkit --config-settings editable_mode=compat
	touch $@

shopkit/src/shop/.generated: $(VENV)/.installed $(shell find proto -name '*.proto')
	$(PY) tools/gen_proto.py
	touch $@

install: $(VENV)/.installed shopkit/src/shop/.generated ## Create the virtualenv, install pinned dependencies, generate gRPC stubs

proto: ## Regenerate gRPC stubs from proto/
	$(PY) tools/gen_proto.py
	touch shopkit/src/shop/.generated

run: install ## Run the whole shop locally: SQLite, embedded Kafka, every process (Ctrl-C stops)
	$(PY) -m tools.shoprun

test: install ## Every service's suite (PostgreSQL, Redis), then infra checks and end-to-end tests
	$(PY) -m tools.testall

test-stack: install ## The compose stack for real on a private Docker engine (stand-in images built here), black-box
	$(PY) -m tools.testall stack

# buf breaking compares proto/ with the last commit of main (a clone's .git and a worktree's .git file alike).
lint: install ## ruff (lint + format check), mypy per service, migrations check, event schemas check, secret scan, buf lint + breaking
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONPATH=$(CURDIR):$(CURDIR)/shopkit DJANGO_SETTINGS_MODULE=shopkit_tests.settings $(BIN)/mypy shopkit/src/shopkit tools bench grafana
	@for svc in $(SERVICES); do echo "mypy $$svc"; DJANGO_SETTINGS_MODULE=$$svc.settings $(BIN)/mypy $$svc || exit 1; done
	@for svc in user_svc product_svc order_svc cart_svc; do $(PY) $$svc/manage.py makemigrations --check --dry-run >/dev/null || { echo "missing migrations in $$svc"; exit 1; }; done
	$(PY) -m tools.check_event_schemas
	$(PY) tools/check_secrets.py
	$(BIN)/buf lint
	$(BIN)/buf breaking --against '.git#branch=main,subdir=proto'

event-schemas: install ## Regenerate docs/events/ (JSON Schemas, AsyncAPI) from shopkit.events.contracts
	$(PY) -m tools.check_event_schemas --write

fmt: install ## Format and auto-fix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

requirements: ## Re-pin requirements/*.txt from the .in files
	$(BIN)/uv pip compile --python-version 3.11 --quiet requirements/base.in -o requirements/base.txt
	$(BIN)/uv pip compile --python-version 3.11 --quiet requirements/dev.in -o requirements/dev.txt

bench: install ## Benchmarks, side by side; writes docs/BENCHMARKS.md
	$(PY) -m bench.run $(BENCH_ARGS)

load: install ## Headless Locust load against a running shop (make run first)
	$(BIN)/locust -f bench/locustfile.py --headless --users $${USERS:-20} --spawn-rate 5 --run-time $${RUN_TIME:-60s} --host $${HOST:-http://127.0.0.1:3000}

fault: install ## Switch a fault on (NAME=... [VALUE=...]) or off (NAME=... OFF=1) in every running process; docs/faults.md
	@test -n "$(NAME)" || { echo "usage: make fault NAME=<fault> [VALUE=<value>] | make fault NAME=<fault> OFF=1 (make faults lists them)"; exit 2; }
	$(PY) -m tools.faults $(if $(OFF),off $(NAME),set $(NAME) $(VALUE))

faults: install ## List every fault switch, its state and value
	@$(PY) -m tools.faults list

dashboards: install ## Regenerate grafana/dashboards/*.json from grafana/generate_dashboards.py
	$(PY) grafana/generate_dashboards.py

# The full stack: `docker compose` where the Docker CLI has the plugin, else Compose v2 from the virtualenv.
COMPOSE_FILES := --env-file compose/.env -f compose/docker-compose.yml --profile demo --profile grafana
COMPOSE = $(shell docker compose version >/dev/null 2>&1 && echo docker compose || $(PY) -c 'from tools.stack.engine import compose_binary; print(compose_binary())')

up: install ## The full stack in Docker with demo data: creates compose/.env, keys and certificates if missing, prints every URL
	$(PY) -m tools.stack.prepare
	$(PY) -m tools.stack.images --wheelhouse
	$(COMPOSE) $(COMPOSE_FILES) up --detach --build --wait
	$(PY) -m tools.stack.prepare --urls

tools: install ## pgAdmin and RedisInsight (compose's tools profile, 127.0.0.1 only) beside a running `make up`
	$(COMPOSE) $(COMPOSE_FILES) --profile tools up --detach --wait pgadmin redisinsight
	$(PY) -m tools.stack.prepare --urls

certs: install ## gRPC CA and service certificates for the full stack in compose/secrets/grpc (make run makes its own)
	$(PY) -m tools.certs

down: install ## Stop the full stack (its data stays in volumes)
	$(COMPOSE) $(COMPOSE_FILES) down

down-volumes: install ## Stop the full stack and delete its data
	$(COMPOSE) $(COMPOSE_FILES) down --volumes

clean: ## Remove local data (var/) and the virtualenv
	rm -rf var $(VENV) shopkit/src/shop
