// The counted frames a client sent in the current session, kept until the
// server's count acknowledges them so that a reconnect can resend them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "net/protocol.hpp"

namespace starhold::client {

// Frames are numbered from 1 in the order sent. The buffer holds the newest
// unacknowledged ones within a byte bound; past the bound the oldest are
// dropped, and missing_after() tells a reconnect how many it can no longer
// resend. Not thread-safe: used on its client's strand only.
class ResendBuffer {
 public:
  explicit ResendBuffer(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  // Records the next frame sent (number sent() + 1).
  void push(net::FramePtr frame) {
    bytes_ += frame->size();
    frames_.push_back(std::move(frame));
    ++sent_;
    while (bytes_ > max_bytes_ && !frames_.empty())
      pop_front();
  }

  // The server has received the first count frames: forgets them. Returns
  // false, changing nothing, when count exceeds sent().
  bool acknowledge(std::uint64_t count) {
    if (count > sent_) return false;
    while (!frames_.empty() && first() <= count)
      pop_front();
    return true;
  }

  // Of the frames after the first count, how many the buffer no longer holds.
  std::uint64_t missing_after(std::uint64_t count) const {
    return first() > count + 1 ? first() - 1 - count : 0;
  }

  // The frames held, oldest first; after acknowledge(count), exactly the
  // frames numbered above count that were not dropped.
  const std::deque<net::FramePtr>& frames() const noexcept { return frames_; }
  std::uint64_t sent() const noexcept { return sent_; }

  // A new session: nothing sent yet.
  void reset() {
    frames_.clear();
    bytes_ = 0;
    sent_ = 0;
  }

 private:
  std::uint64_t first() const noexcept { return sent_ + 1 - frames_.size(); }
  void pop_front() {
    bytes_ -= frames_.front()->size();
    frames_.pop_front();
  }

  std::deque<net::FramePtr> frames_;  // numbered first() .. sent_
  std::size_t bytes_ = 0;
  std::size_t max_bytes_;
  std::uint64_t sent_ = 0;
};

}  // namespace starhold::client
