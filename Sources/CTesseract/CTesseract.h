// Carries only pkg-config's tesseract flags to CTulgaDocument; nothing imports it from Swift.
#pragma once
