.PHONY: setup run test build
setup:
	bash scripts/setup
run:
	bash scripts/run
test:
	bash scripts/test
build:
	swift build -c release --product tulga
	swift build -c release --product TulgaVideo
	swift build -c release --product TulgaCamera
