// Carries only pkg-config's tulga-camera flags to TulgaCamera; nothing imports it from Swift.
#pragma once
