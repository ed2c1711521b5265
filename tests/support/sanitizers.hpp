#pragma once

// Whether the test binary runs under AddressSanitizer: some checks differ
// there (a fault becomes a report and exit status 1; freed memory sits in
// quarantine, so resident memory says nothing about a bound).

#if defined(__SANITIZE_ADDRESS__)
#define TROUPE_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TROUPE_TEST_ASAN 1
#endif
#endif
#ifndef TROUPE_TEST_ASAN
#define TROUPE_TEST_ASAN 0
#endif
