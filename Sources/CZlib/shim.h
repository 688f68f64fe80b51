// zlib from the system (Debian: zlib1g-dev), for PNG's deflate stream and CRC-32.
#include <zlib.h>
