// The modes of the test helper program (test_helper.cpp) that load, crash and
// audit the bank (bank.hpp). Each returns the program's exit status.
#pragma once

#include <string>
#include <vector>

namespace helper {

// bank-load DIR [--relaxed] [--store-bytes N] [--seconds N] [--clients N]
//   Runs transfers (from N client threads, default 4, each keeping 32 in
//   flight) and schedules marks on the store in DIR until killed, or for N
//   seconds (default 60). Prints, one line each, unbuffered:
//     starting                  before the server starts (and recovers)
//     run R pending P           after it started: its run number, and the
//                               durable tasks it re-armed (the beat included)
//     committed ID              a transfer whose durable commit was reported
//     scheduled ID              a mark whose scheduling commit was reported
//     ran mark ID               a mark's run committed
//   --relaxed opens the store with durable=false; --store-bytes sets the
//   initial map size, so the map grows (and is remapped) often.
int bank_load(const std::vector<std::string>& args);

// bank-check DIR LOG
//   Restarts a server on DIR and checks every invariant against LOG (the
//   lines of every load run on DIR): each reported transfer is present, the
//   books balance, every mark ran exactly once, the beat runs. Prints what it
//   checked; exits 1 with a VIOLATION line per broken invariant.
int bank_check(const std::vector<std::string>& args);

// prepare-disk SIMDIR DIR / power-loss SIMDIR DIR SEED
//   The disk simulator's steps for scripts (see power_loss.hpp).
int prepare_disk(const std::vector<std::string>& args);
int power_loss(const std::vector<std::string>& args);

}  // namespace helper
