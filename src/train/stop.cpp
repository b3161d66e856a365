#include "digitnet/train/stop.hpp"

#include <pthread.h>

#include <atomic>
#include <csignal>
#include <mutex>
#include <thread>

namespace digitnet {

namespace {

std::atomic<int> g_stop_signal{0};

sigset_t stop_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGUSR1, SIGINT}) sigaddset(&set, sig);
  return set;
}

// The one thread that takes the stop signals, synchronously.
void wait_for_stop_signals(sigset_t set) {
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    int none = 0;
    if (g_stop_signal.compare_exchange_strong(none, sig)) continue;  // the first: stop at the next step
    // The second: end now, as if there were no handler.
    std::signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
    std::raise(sig);
  }
}

}  // namespace

void stop_signals_install() {
  static std::once_flag once;
  std::call_once(once, [] {
    const sigset_t set = stop_signal_set();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);  // inherited by every thread created from now on
    std::thread(wait_for_stop_signals, set).detach();
  });
}

int stop_signal_received() { return g_stop_signal.load(); }

}  // namespace digitnet
