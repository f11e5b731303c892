#include "net/frames.hpp"

#include <cstring>

namespace netbench {

std::string frame(std::uint8_t opcode, std::string_view body) {
  std::string out;
  append_frame(out, opcode, body);
  return out;
}

std::string str16(std::string_view s) {
  std::string out;
  put_be(out, s.size(), 2);
  out.append(s);
  return out;
}

std::string u64_body(std::uint64_t v) {
  std::string out;
  put_be(out, v, 8);
  return out;
}

asio::mutable_buffer FrameReader::space() {
  if (buf_.size() - end_ < 512) {
    if (begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (buf_.size() - end_ < 512) buf_.resize(buf_.size() * 2);
  }
  return asio::buffer(buf_.data() + end_, buf_.size() - end_);
}

}  // namespace netbench
