# Every task a developer or CI runs; `make help` lists them.
SHELL := /bin/bash
NODE_MODULES := node_modules/.package-lock.json
TSC := node_modules/.bin/tsc
JEST := node_modules/.bin/jest

.PHONY: help install build generate lint format test test-fast test-boot test-unit demo emulator bench fuzz fixtures boot-corpus boot-matrix metamorphic sample clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund
	@# Programs and Pulumi's provider host import this package by name, as a user's program does.
	ln -sfn .. node_modules/do-image
	@touch $@

install: $(NODE_MODULES) ## install the npm dependencies from the lockfile

build: install ## compile TypeScript into dist/, and bundle the CLI into dist/cli/ (one file, for a fast start)
	$(TSC) -p tsconfig.json
	@# The AWS SDK, ssh2 and its native helper load from node_modules only when a command needs them. The bundle is plain
	@# CommonJS, import() included, as bin.js runs it through a code cache in a vm.Script.
	node_modules/.bin/esbuild provider/cli/main.ts provider/image/codecs/bzip2-worker.ts provider/image/codecs/deflate-worker.ts --bundle --platform=node --target=node20 \
	  --outdir=dist/cli --entry-names=[name] --sourcemap --log-level=warning --supported:dynamic-import=false \
	  --external:@aws-sdk/* --external:ssh2 --external:cpu-features --external:lzma
	@# The executable replaces tsc's bin.js with itself and its two helpers in one file: one module to resolve, not three.
	node_modules/.bin/esbuild provider/cli/bin.ts --bundle --platform=node --target=node20 --outfile=dist/provider/cli/bin.js \
	  --sourcemap --log-level=warning --supported:dynamic-import=false --external:./main
	@# esbuild escapes non-ASCII in code but keeps some comments as written, and one non-ASCII character makes V8 hold the
	@# whole bundle as two-byte text: twice the memory, slower to read, and a measurable part of a command's start.
	@if LC_ALL=C grep -q -P '[^\x00-\x7F]' dist/cli/*.js; then LC_ALL=C grep -n -P '[^\x00-\x7F]' dist/cli/*.js | cut -c1-160 >&2; \
	  echo "make build: the bundle must be ASCII; reword the comments above (… is ..., ≤ is <=)" >&2; exit 1; fi

generate: build ## regenerate the faces' argument types from schema.json (provider/pulumi/args.generated.ts, provider/cdktf/config.generated.ts)
	node dist/tools/schema-types/generate.js

lint: install ## eslint and prettier --check
	node_modules/.bin/eslint .
	node_modules/.bin/prettier --check .

format: install ## rewrite files with prettier
	node_modules/.bin/prettier --write .

test: build ## run every test (suites needing missing tools skip and say which tool; REQUIRE_TOOLS=1 fails them)
	@# The boots run after the rest: QEMU under TCG takes a whole core per guest and would starve the other suites.
	$(JEST) --testPathIgnorePatterns /test/real-boots/
	$(MAKE) --no-print-directory test-boot

test-boot: build ## only the real boots (QEMU under TCG, about 10 minutes on 2 cores)
	$(JEST) test/real-boots

# The suites that take minutes (boots, fuzzing, end-to-end runs, differentials against real tools, the packed package,
# the CLI and engine as child processes): test-fast leaves them to test-unit and test.
SLOW_SUITES := /test/(real-boots|e2e|fuzz|package|cdktf)/|/test/cli/(push|concurrency|validate|convert|inspect|code-cache)\.test|/test/image/(differential|metamorphic|ext4|hostile|guest-files|containers)\.test|/test/publish/qcow2-writer\.test|/test/pulumi/provider\.test|/test/readme\.test

test-fast: install ## the quick suites, in-process, while editing (under a minute; the slow ones are in test-unit)
	$(JEST) --testPathIgnorePatterns '$(SLOW_SUITES)'

test-unit: build ## every suite but the real boots
	$(JEST) --testPathIgnorePatterns /test/real-boots/

fuzz: build ## fuzz longer than CI: disk images (N=5000), guest files on every bootable corpus image (GUEST_N=1000), #26's reproducers measured
	node dist/test/fuzz/fuzz.js --count=$(or $(N),5000) --seed=$(or $(SEED),$$RANDOM)
	@# Guest files: root for the corpus build and loop mounts; failing cases land in test/fuzz/guest-regressions.
	node dist/test/fuzz/guest.js --count=$(or $(GUEST_N),1000) --seed=$(or $(SEED),$$RANDOM)
	node dist/test/fuzz/reproducers.js

fixtures: ## build the tool-made test images (cached outside the repo)
	bash test/fixtures/build.sh

boot-corpus: ## build the bootable corpus: Debian 12 by template, and Debian 11-13 made by grub-install/update-grub (root; cached outside the repo)
	bash test/fixtures/boot-corpus.sh
	bash test/fixtures/boot-corpus-wild.sh

boot-matrix: build ## boot every corpus image in QEMU and hold validate against each boot (about 40 minutes under TCG)
	node dist/test/real-boots/matrix.js

metamorphic: build ## rewrites GRUB, fstab and cloud-init treat the same, on every bootable corpus image, a sample booted (root; about 25 minutes)
	METAMORPHIC=all METAMORPHIC_BOOT=1 node_modules/.bin/jest test/image/metamorphic.test.ts

sample: fixtures ## refresh the committed sample images in examples/images from the fixtures
	mkdir -p examples/images
	cp "$$(bash test/fixtures/build.sh 2>/dev/null)/good-zlib.qcow2" examples/images/debian-12-sample.qcow2
	cp "$$(bash test/fixtures/build.sh 2>/dev/null)/good-gpt.raw.bz2" examples/images/debian-12-sample.raw.bz2

emulator: build ## run the local DigitalOcean in the foreground, printing the exports (tools/local-do; a test harness)
	node dist/tools/local-do/emulator/main.js $(ARGS)

demo: build ## the whole job on the sample image against a local DigitalOcean: validate, preview, up, destroy
	node dist/tools/local-do/demo.js

bench: build ## benchmarks against reference tools, printed as ratios
	node dist/bench/run.js

clean: ## remove build output
	rm -rf dist coverage
