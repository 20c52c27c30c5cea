// libTulgaVideo.so exports one symbol, tulga_video_api (see TulgaVideoABI.h); nothing links it.
#include "TulgaVideoABI.h"
