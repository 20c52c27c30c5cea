// Debian's OpenSSL 3 (libssl-dev), through pkg-config openssl.
#pragma once
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
