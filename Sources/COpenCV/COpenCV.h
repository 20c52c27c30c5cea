// Carries only pkg-config's opencv4 flags to CTulgaVision; nothing imports it from Swift.
#pragma once
