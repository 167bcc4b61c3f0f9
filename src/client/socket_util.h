#pragma once

// TCP connect with a deadline, shared by the reachability check and
// protocol_connection.

#include <chrono>
#include <string>

#include "base/result.h"

namespace sluice::client {

// Connects to "host:port" (a name, an IPv4 address or a bracketed IPv6
// address) within `timeout`; returns the connected, blocking socket.
base::result<int> connect_tcp(const std::string& address, std::chrono::milliseconds timeout);

}  // namespace sluice::client
