# Berth developer entry points. `make run` starts a local Berth server,
# `make test` runs all tests (e2e tests need docker and the stack images,
# which `scripts/setup.sh` provides).
SHELL := /bin/bash
.DEFAULT_GOAL := help

ifeq ($(shell id -u),0)
DATA_DIR ?= /var/lib/berth
else
DATA_DIR ?= $(HOME)/.local/share/berth
endif
HTTP_LISTEN ?= 0.0.0.0:80
API_LISTEN ?= 127.0.0.1:7070
TEST_THREADS ?= 4

# Find cargo even when ~/.cargo/bin is not on PATH (CI, sudo).
export PATH := $(PATH):$(HOME)/.cargo/bin

.PHONY: help setup stack run build test fmt lint bench-router

help:
	@echo "make setup         install host packages, start dockerd, build stack images"
	@echo "make stack         force-rebuild the stack images (berth/stack:trixie{,-build})"
	@echo "make run           build and run the server (DATA_DIR=$(DATA_DIR) HTTP_LISTEN=$(HTTP_LISTEN) API_LISTEN=$(API_LISTEN))"
	@echo "make test          run all tests (needs root for docker)"
	@echo "make fmt | lint    format / check formatting and clippy"
	@echo "make bench-router  router benchmark (bench/router/run.sh)"

setup:
	bash scripts/setup.sh

stack:
	bash stack/build.sh --force

build:
	cargo build --release -p berth

run:
	bash scripts/setup.sh
	cargo build --release -p berth
	mkdir -p "$(DATA_DIR)"
	exec target/release/berth server --data-dir "$(DATA_DIR)" \
		--http-listen "$(HTTP_LISTEN)" --api-listen "$(API_LISTEN)"

test: setup
	cargo test --workspace -- --test-threads=$(TEST_THREADS)
	bash buildpacks/test/run.sh

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

bench-router: setup
	bash bench/router/run.sh
