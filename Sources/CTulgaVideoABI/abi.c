// Header-only target: the table's layout shared by CTulgaVision and TulgaVideo.
#include "TulgaVideoABI.h"
