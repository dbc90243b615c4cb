// libFuzzer target: the /ws/trainer protocol (docs/protocol.md) as a trainer speaks it, into the
// real TrainerHub through its WebSocket endpoint, over a real store and a balancer without
// sandboxes (tests/fuzz/daemon_world.h): every message handler's checks run, and a start that
// passes them fails to place.
//
// Input: the first byte says which frames are binary (bit i % 8 for frame i); the rest is one
// frame per line. A binary frame is the line's MessagePack when the line is JSON (so the JSON
// seeds reach the MessagePack decoder as valid objects), else the raw bytes. An empty line opens
// a second connection, so a hello can take a trainer's stream over from the first.
//
// Beyond "no crash", every frame rockd sends must decode to an object whose type is one of the
// protocol's, errors must carry a code and a message, and the encoding must follow the hello:
// text until a hello asks for MessagePack, binary from its welcome on.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/http_message.h"
#include "daemon/trainer_stream.h"
#include "tests/fuzz/daemon_world.h"
#include "tests/fuzz/require.h"

namespace rock::fuzz {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxFrames = 64;

// A client connection that checks every frame rockd sends it.
class CheckingChannel : public WsChannel {
 public:
  void Send(std::shared_ptr<const std::string> message, bool binary) override {
    Require(!closed_);
    const json frame = binary ? json::from_msgpack(*message, true, false) : json::parse(*message, nullptr, false);
    Require(!frame.is_discarded() && frame.is_object());
    const auto type = frame.find("type");
    Require(type != frame.end() && type->is_string());
    static const std::set<std::string> kTypes = {"welcome", "obs", "trajectory", "error", "pong"};
    Require(kTypes.contains(type->get<std::string>()));
    if (*type == "error") {
      Require(frame.contains("code") && frame["code"].is_string() && frame["code"] != "ok");
      Require(frame.contains("message") && frame["message"].is_string() && !frame["message"].empty());
    }
    // The encoding changes only with a welcome; a connection's first welcome sets it.
    if (*type == "welcome") {
      Require(!welcomed_);
      welcomed_ = true;
      msgpack_ = binary;
    } else {
      Require(binary == msgpack_);
    }
  }
  void Close() override { closed_ = true; }
  bool closed() const { return closed_; }

 private:
  bool closed_ = false;
  bool welcomed_ = false;
  bool msgpack_ = false;
};

struct Client {
  std::shared_ptr<CheckingChannel> channel = std::make_shared<CheckingChannel>();
  std::shared_ptr<WsHandler> handler;
  bool closed = false;
};

std::string BinaryFrame(std::string_view line) {
  const json parsed = json::parse(line, nullptr, false);
  if (parsed.is_discarded()) return std::string(line);
  const std::vector<uint8_t> bytes = json::to_msgpack(parsed);
  return std::string(bytes.begin(), bytes.end());
}

void Connect(WsEndpoint& endpoint, std::vector<Client>& clients) {
  Client& client = clients.emplace_back();
  client.handler = endpoint(client.channel, HttpRequest{});
  Require(client.handler != nullptr);
}

// What the WebSocket session does when its channel is closed: the handler hears of it once.
void DeliverCloses(std::vector<Client>& clients) {
  for (Client& client : clients) {
    if (client.closed || !client.channel->closed()) continue;
    client.closed = true;
    client.handler->OnClose();
  }
}

}  // namespace
}  // namespace rock::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rock;
  using namespace rock::fuzz;
  if (size == 0) return 0;
  const uint8_t binary_bits = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);

  DaemonWorld world;
  {
    TrainerHubOptions options;
    options.max_trainers = 2;  // reachable: a third trainer name is refused
    options.max_staleness = 2;
    TrainerHub hub(world.io(), world.balancer(), world.store(), world.metrics(), world.bus(), options);
    WsEndpoint endpoint = hub.Endpoint();
    std::vector<Client> clients;
    Connect(endpoint, clients);
    for (std::size_t i = 0; i < kMaxFrames && !rest.empty(); ++i) {
      const auto newline = rest.find('\n');
      const std::string_view line = rest.substr(0, newline);
      rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
      if (line.empty()) {
        Connect(endpoint, clients);
        continue;
      }
      Client& client = clients.back();
      if (client.closed) continue;  // taken over: a closed socket carries nothing more
      const bool binary = (binary_bits >> (i % 8)) & 1;
      client.handler->OnMessage(binary ? BinaryFrame(line) : std::string(line), binary);
      world.Drain();
      DeliverCloses(clients);
    }
    world.Drain();
    for (Client& client : clients) {
      if (!client.closed) client.handler->OnClose();
    }
    hub.Stop();
    world.Drain();
  }
  return 0;
}
