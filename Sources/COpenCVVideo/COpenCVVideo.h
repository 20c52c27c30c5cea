// Carries only pkg-config's tulga-video flags to TulgaVideo; nothing imports it from Swift.
#pragma once
