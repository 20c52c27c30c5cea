// Carries only pkg-config's tulga-tesseract flags (headers, no library) to CTulgaDocument; nothing imports it from Swift.
#pragma once
