// libTulgaCamera.so exports one symbol, tulga_camera_api (see TulgaVideoABI.h); nothing links it.
#include "TulgaVideoABI.h"
