# The two commands: `make run` and `make test`. Everything else is a helper they call.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export DJANGO_SETTINGS_MODULE := stateset.settings

.PHONY: run serve test install browser lint format schema docs check bench bench-reads fuzz rehearsal clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	@mkdir -p var
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	DEBUG=$${DEBUG:-1} WEBHOOK_ALLOW_PRIVATE=$${WEBHOOK_ALLOW_PRIVATE:-1} $(BIN)/python manage.py seed_demo
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py setup_roles
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py bootstrap_access --username admin --port $(PORT)
	@# A Celery worker (with beat) beside runserver, its lines in the same terminal; the broker is var/celery/
	@# unless CELERY_BROKER_URL names one. Stopping runserver stops the worker.
	DEBUG=$${DEBUG:-1} WEBHOOK_ALLOW_PRIVATE=$${WEBHOOK_ALLOW_PRIVATE:-1} $(BIN)/celery -A stateset worker --beat --pool solo --loglevel INFO \
		--schedule var/celerybeat-schedule & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	DEBUG=$${DEBUG:-1} WEBHOOK_ALLOW_PRIVATE=$${WEBHOOK_ALLOW_PRIVATE:-1} $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# The production shape on one machine: DEBUG off, PostgreSQL, Redis, gunicorn + Celery worker + beat (Procfile).
serve: install
	@for v in DATABASE_URL REDIS_URL CELERY_BROKER_URL SECRET_KEY; do \
		if [ -z "$$(printenv $$v)" ]; then echo "make serve: set $$v (see docs/operations.md#production)" >&2; exit 1; fi; \
	done
	@mkdir -p var
	DEBUG=0 $(BIN)/python manage.py migrate --noinput
	DEBUG=0 $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@echo "  Web:     http://$${BIND:-127.0.0.1:$(PORT)}/  (gunicorn, /healthz, /readyz, /admin/)"
	@echo "  Worker:  celery on $$(echo $$CELERY_BROKER_URL | sed -E 's#//[^@/]*@#//***@#')"
	@echo "  Beat:    the schedule in CELERY_BEAT_SCHEDULE (stateset/settings.py)"
	DEBUG=0 PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho start -f Procfile --port $(PORT)

# The browser tests (tests/browser) drive Debian's chromium, headless; Playwright never downloads a browser.
# Installed here when missing (as root); without it the browser tests skip, and under CI=true they fail.
browser:
	@command -v chromium >/dev/null 2>&1 \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) \
		|| echo "chromium is not installed: the browser tests will be skipped (under CI=true they fail)"

# Runs on SQLite unless DATABASE_URL names another database (see .ci/run for PostgreSQL).
test: install browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: install
	@mkdir -p var
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file var/openapi.yaml

# The docs (docs/, mkdocs.yml) as a site in var/site; --strict turns a broken link or a page missing from the nav into an error.
docs: install
	@mkdir -p var
	$(BIN)/mkdocs build --strict -d var/site

# What CI checks besides the tests. fsm_tables --check: the state-machine tables in docs/ match the models.
check: lint schema docs
	$(BIN)/python manage.py fsm_tables --check
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py check

# Workload W1 through the HTTP API beside the peer's embedded engine, in the same run (see bench/w1_http.py).
bench: install
	$(BIN)/python bench/w1_http.py

# The read path over HTTP against the bench_data set (ORDERS=100000 by default; BENCH_DATABASE_URL reuses a
# loaded database), beside the lean floor of the order list, in the same run (see bench/reads_http.py).
bench-reads: install
	$(BIN)/python bench/reads_http.py

# Schemathesis over every operation, stateful phase included, against gunicorn on a fresh database (PostgreSQL on
# DATABASE_URL's server or 127.0.0.1:5432); FUZZ_SECONDS bounds it (300). See fuzz/run.py.
fuzz: install
	$(BIN)/python fuzz/run.py

# The production shape under load on this machine: PostgreSQL, Redis, RabbitMQ, two gunicorn instances behind
# nginx, a Celery worker and beat; an instance and the worker killed and restarted mid-run; then the checks.
# DURATION=120 seconds of load (CI runs DURATION=30). Installs nginx and redis-server when missing (as root).
# See bench/rehearsal.py and docs/operations.md#scale-rehearsal.
rehearsal: install
	$(BIN)/python bench/rehearsal.py

clean:
	rm -rf $(VENV) var/*.sqlite3 var/static var/site
