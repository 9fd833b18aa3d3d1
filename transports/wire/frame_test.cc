// The wire frame codec: round trips, and every way a header can be wrong
// answered with the right code, with the call id when it can be read.
#include "frame.hh"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace junction::wire {
namespace {

constexpr std::int32_t kInvalidArgument = 3;
constexpr std::int32_t kResourceExhausted = 8;
constexpr std::int32_t kFailedPrecondition = 9;

std::vector<std::uint8_t> Request(std::uint64_t call_id = 7, std::int64_t timeout_ns = 1000,
                                  std::string_view service = "rust.echo",
                                  std::string_view method = "echo", std::uint64_t payload = 5) {
  std::vector<std::uint8_t> out;
  EXPECT_TRUE(encode_request(call_id, timeout_ns, service, method, payload, out));
  return out;
}

Decoded Decode(const std::vector<std::uint8_t>& bytes, std::uint64_t payload_frame_len,
               Limits limits = {}) {
  return decode_header(bytes, payload_frame_len, limits);
}

void ExpectRefused(const Decoded& d, std::int32_t code, std::optional<std::uint64_t> call_id,
                   std::string_view message_part) {
  ASSERT_FALSE(d.header.has_value());
  EXPECT_EQ(d.error.code, code) << d.error.message;
  EXPECT_EQ(d.error.call_id, call_id);
  EXPECT_NE(d.error.message.find(message_part), std::string::npos) << d.error.message;
}

TEST(WireFrameTest, RequestRoundTrip) {
  const auto bytes = Request(0x0123456789abcdefULL, 250'000'000, "rust.echo", "checksum", 65536);
  ASSERT_EQ(bytes.size(), kFixedHeaderBytes + 9 + 8);
  const Decoded d = Decode(bytes, 65536);
  ASSERT_TRUE(d.header.has_value()) << d.error.message;
  EXPECT_EQ(d.header->kind, Kind::request);
  EXPECT_EQ(d.header->call_id, 0x0123456789abcdefULL);
  EXPECT_EQ(d.header->timeout_ns, 250'000'000);
  EXPECT_EQ(d.header->service, "rust.echo");
  EXPECT_EQ(d.header->method, "checksum");
  EXPECT_EQ(d.header->payload_len, 65536U);
}

TEST(WireFrameTest, ResponseRoundTrip) {
  std::vector<std::uint8_t> ok;
  ASSERT_TRUE(encode_response(9, 0, "", 1 << 20, ok));
  const Decoded d = Decode(ok, 1 << 20);
  ASSERT_TRUE(d.header.has_value()) << d.error.message;
  EXPECT_EQ(d.header->kind, Kind::response);
  EXPECT_EQ(d.header->code, 0);
  EXPECT_EQ(d.header->payload_len, 1U << 20);

  std::vector<std::uint8_t> failed;
  ASSERT_TRUE(encode_response(10, 14, "peer went away", 0, failed));
  const Decoded f = Decode(failed, 0);
  ASSERT_TRUE(f.header.has_value()) << f.error.message;
  EXPECT_EQ(f.header->code, 14);
  EXPECT_EQ(f.header->message, "peer went away");
}

// A cancel is 40 bytes: kind 3 and the call id, every other field zero.
TEST(WireFrameTest, CancelRoundTripAndLayout) {
  std::vector<std::uint8_t> cancel;
  encode_cancel(0x0102030405060708ULL, cancel);
  const std::vector<std::uint8_t> expected = {
      'J',  'N',  'W',  'F',  1,    3,    0,    0,     // magic, version, kind 3, lengths
      0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,  // call id
      0,    0,    0,    0,    0,    0,    0,    0,     // timeout
      0,    0,    0,    0,    0,    0,    0,    0,     // code, message length
      0,    0,    0,    0,    0,    0,    0,    0};    // payload length
  EXPECT_EQ(cancel, expected);
  const Decoded d = Decode(cancel, 0);
  ASSERT_TRUE(d.header.has_value()) << d.error.message;
  EXPECT_EQ(d.header->kind, Kind::cancel);
  EXPECT_EQ(d.header->call_id, 0x0102030405060708ULL);

  for (const std::size_t offset : {16, 24, 28, 32}) {
    auto filled = cancel;
    filled[offset] = 1;
    ExpectRefused(Decode(filled, offset == 32 ? 1 : 0), kInvalidArgument, 0x0102030405060708ULL,
                  offset == 28 ? "add up to" : "cancel with");
  }
}

// The byte layout is the documented one (docs/wire.md): little-endian
// fields at fixed offsets.
TEST(WireFrameTest, LayoutIsTheDocumentedOne) {
  const auto b = Request(0x0102030405060708ULL, -1, "s", "m", 0x1122);
  const std::vector<std::uint8_t> expected = {
      'J',  'N',  'W',  'F',  1,    1,    1,    1,     // magic, version, kind, lengths
      0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,  // call id
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // timeout -1
      0,    0,    0,    0,    0,    0,    0,    0,     // code, message length
      0x22, 0x11, 0,    0,    0,    0,    0,    0,     // payload length
      's',  'm'};
  EXPECT_EQ(b, expected);
}

TEST(WireFrameTest, LongMessagesAreCutAtACharacterBoundary) {
  std::string message(kMaxMessageBytes - 1, 'x');
  message += "\xc3\xa9";  // a 2-byte character straddling the limit
  std::vector<std::uint8_t> out;
  ASSERT_TRUE(encode_response(1, 13, message, 0, out));
  const Decoded d = Decode(out, 0);
  ASSERT_TRUE(d.header.has_value());
  EXPECT_EQ(d.header->message.size(), kMaxMessageBytes - 1);
}

TEST(WireFrameTest, EncoderRefusesWhatTheDecoderWould) {
  std::vector<std::uint8_t> out{1};
  EXPECT_FALSE(encode_request(1, -1, "", "m", 0, out));
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(encode_request(1, -1, std::string(256, 's'), "m", 0, out));
  EXPECT_FALSE(encode_request(1, -1, "s", std::string_view("m\0x", 3), 0, out));
  EXPECT_FALSE(encode_request(1, -2, "s", "m", 0, out));
  EXPECT_FALSE(encode_response(1, 17, "", 0, out));
  EXPECT_FALSE(encode_response(1, -1, "", 0, out));
  EXPECT_FALSE(encode_response(1, 5, "not found", 3, out));
}

TEST(WireFrameTest, NotAJunctionFrameIsDroppedWithoutACallId) {
  ExpectRefused(Decode({}, 0), kInvalidArgument, std::nullopt, "bad magic");
  ExpectRefused(Decode({'H', 'T', 'T', 'P', ' '}, 0), kInvalidArgument, std::nullopt, "bad magic");
  auto bytes = Request();
  bytes.resize(kIdentityBytes - 1);
  ExpectRefused(Decode(bytes, 5), kInvalidArgument, std::nullopt, "truncated");
}

// Every truncation of a valid header is refused, never read past.
TEST(WireFrameTest, EveryTruncationIsRefused) {
  const auto full = Request();
  for (std::size_t len = 0; len < full.size(); ++len) {
    SCOPED_TRACE(len);
    const std::vector<std::uint8_t> cut(full.begin(), full.begin() + static_cast<long>(len));
    const Decoded d = Decode(cut, 5);
    EXPECT_FALSE(d.header.has_value());
    EXPECT_EQ(d.error.code, kInvalidArgument);
    EXPECT_EQ(d.error.call_id.has_value(), len >= kIdentityBytes);
  }
}

TEST(WireFrameTest, UnknownVersionIsAnsweredForItsCall) {
  auto bytes = Request(42);
  bytes[4] = 2;
  ExpectRefused(Decode(bytes, 5), kFailedPrecondition, 42, "version 2");
  bytes.resize(kIdentityBytes);  // a future version may be shorter
  ExpectRefused(Decode(bytes, 5), kFailedPrecondition, 42, "version 2");
}

TEST(WireFrameTest, OversizedPayloadIsRefusedBeforeAnythingElse) {
  const auto bytes = Request(5, -1, "s", "m", std::uint64_t{1} << 40);
  ExpectRefused(Decode(bytes, 0, Limits{1 << 20}), kResourceExhausted, 5, "more than the");
}

TEST(WireFrameTest, MalformedHeadersAreAnsweredForTheirCall) {
  auto kind = Request(1);
  kind[5] = 9;
  ExpectRefused(Decode(kind, 5), kInvalidArgument, 1, "unknown frame kind 9");

  auto lengths = Request(2);
  lengths[6] = 200;  // service length beyond the frame
  ExpectRefused(Decode(lengths, 5), kInvalidArgument, 2, "add up to");

  auto extra = Request(3);
  extra.push_back('!');
  ExpectRefused(Decode(extra, 5), kInvalidArgument, 3, "add up to");

  ExpectRefused(Decode(Request(4), 6), kInvalidArgument, 4, "payload frame has 6");

  auto big_message = Request(5);
  big_message[28] = 0xff;
  big_message[29] = 0xff;
  big_message[30] = 0x01;  // 0x1ffff bytes
  ExpectRefused(Decode(big_message, 5), kInvalidArgument, 5, "status message");

  auto nul = Request(6, -1, "ab", "cd");
  nul[kFixedHeaderBytes] = '\0';
  ExpectRefused(Decode(nul, 5), kInvalidArgument, 6, "valid service");

  auto timeout = Request(7, -1);
  timeout[16] = 0xfe;  // -2
  ExpectRefused(Decode(timeout, 5), kInvalidArgument, 7, "timeout");

  auto coded = Request(8);
  coded[24] = 1;
  ExpectRefused(Decode(coded, 5), kInvalidArgument, 8, "status code or message");

  std::vector<std::uint8_t> response;
  ASSERT_TRUE(encode_response(9, 0, "", 0, response));
  response[24] = 17;
  ExpectRefused(Decode(response, 0), kInvalidArgument, 9, "status code 17");
  response[24] = 5;
  response[32] = 1;
  ExpectRefused(Decode(response, 1), kInvalidArgument, 9, "failed response with a payload");
  response[24] = 0;
  response[32] = 0;
  response[16] = 1;
  ExpectRefused(Decode(response, 0), kInvalidArgument, 9, "timeout");
}

}  // namespace
}  // namespace junction::wire
