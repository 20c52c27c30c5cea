// Carries only pkg-config's tulga-ffmpeg flags to TulgaVideo; nothing imports it from Swift.
#pragma once
