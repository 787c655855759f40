// msgpack codec for wire messages. Every struct is written as a msgpack array of its fields in
// the order listed by its Visit() function below; the same list drives encoding and decoding, so
// the two cannot drift apart. A frame is [version, type, fields of the message...]. Decoders
// accept extra trailing fields (additive evolution) and reject anything else that is unexpected.
#include "schema/codec.h"

#include <array>
#include <cstdint>
#include <limits>
#include <msgpack.hpp>
#include <optional>
#include <type_traits>

#include "base/log.h"

namespace codesweep {
namespace {

// Wire type codes. Pinned by the golden-bytes tests; never renumber, only append.
constexpr std::array<int, std::variant_size_v<Message>> kTypeCodes = {
    1,   // HELLO
    2,   // CREDIT
    3,   // HEARTBEAT
    4,   // CALL
    5,   // CALL_RESULT
    6,   // RESULT
    7,   // BYE
    20,  // WELCOME
    21,  // JOB
    22,  // GRANT
    23,  // ACK
    24,  // CANCEL
    25,  // RESET
    26,  // HEARTBEAT (coordinator)
    8,   // SUBMIT
    9,   // WAKE
    27,  // SUBMITTED
};
constexpr std::array<std::string_view, std::variant_size_v<Message>> kNames = {
    "HELLO", "CREDIT", "HEARTBEAT", "CALL",  "CALL_RESULT",     "RESULT", "BYE",  "WELCOME",  "JOB",
    "GRANT", "ACK",    "CANCEL",    "RESET", "COORD_HEARTBEAT", "SUBMIT", "WAKE", "SUBMITTED"};

// A field added to a message after peers without it were deployed: written like the field, and
// left at its default when a frame from such a peer ends before it. Only at the end of a list.
template <class T>
struct Optional {
  T* value;
};
template <class T>
Optional<T> Opt(T& x) {
  return Optional<T>{&x};
}
using OptionalString = Optional<std::string>;
template <class T>
inline constexpr bool kIsOptional = false;
template <class T>
inline constexpr bool kIsOptional<Optional<T>> = true;

// ---- field lists (order is the wire format) ----
template <class V>
void Visit(V& v, LeaseRef& m) {
  v(m.job, m.lease);
}
template <class V>
void Visit(V& v, GenSettings& m) {
  v(m.temperature, m.top_p, m.max_tokens, m.seed, m.stop);
}
template <class V>
void Visit(V& v, ModelSpec& m) {
  v(m.id, m.provider, m.name, m.options_json);
}
template <class V>
void Visit(V& v, JobSpec& m) {
  int64_t job = m.job.value();
  std::string cell = m.cell.value();
  OptionalString task_def{&m.task_def};
  OptionalString task_row{&m.task_row};
  OptionalString method_json{&m.method_json};
  auto replay_executions = Opt(m.replay_executions);  // batch mode
  v(job, cell, m.sweep, m.task, m.complexity, m.sample, m.seed, m.model, m.method, m.turns, m.gen,
    m.sandbox_json, m.epoch, task_def, task_row, method_json, replay_executions);
  m.job = JobId(job);
  m.cell = CellKey(std::move(cell));
}
template <class V>
void Visit(V& v, CallRecord& m) {
  auto batch = Opt(m.batch);  // batch mode
  v(m.index, m.turn, m.call_key, m.request_json, m.response_json, m.tokens_in, m.tokens_out,
    m.tokens_estimated, m.latency_ms, m.http_status, m.attempts, m.rate_limited, m.cost_usd,
    m.cached, m.error, m.prompt_truncated, batch);
}
template <class V>
void Visit(V& v, ExecutionRecord& m) {
  v(m.index, m.turn, m.code, m.status, m.exit_code, m.signal, m.wall_ms, m.cpu_ms, m.peak_rss_kb,
    m.stdout_text, m.stderr_text, m.stdout_truncated, m.stderr_truncated, m.tier);
}
template <class V>
void Visit(V& v, Outcome& m) {
  auto parked = Opt(m.parked);  // batch mode
  auto parked_on = Opt(m.parked_on);
  v(m.failed, m.retryable, m.error, m.final_answer, m.correct, m.score, m.passed_by,
    m.verdict_reason, m.code_used, m.code_ok, m.turns_used, m.tokens_in, m.tokens_out,
    m.tokens_estimated, m.cost_usd, m.wall_ms, m.extra_json, m.calls, m.executions, m.answer_source,
    parked, parked_on);
}
template <class V>
void Visit(V& v, HelloMsg& m) {
  v(m.proto, m.worker_id, m.host, m.pid, m.slots, m.labels, m.inflight, m.unacked);
}
template <class V>
void Visit(V& v, CreditMsg& m) {
  v(m.n);
}
template <class V>
void Visit(V& v, HeartbeatMsg& m) {
  v(m.inflight);
}
template <class V>
void Visit(V& v, CallMsg& m) {
  auto batch_body = Opt(m.batch_body);  // batch mode
  v(m.job, m.lease, m.call_key, m.provider, m.model, m.key_alias, m.est_tokens, batch_body);
}
template <class V>
void Visit(V& v, CallResultMsg& m) {
  v(m.job, m.lease, m.call_key, m.provider, m.model, m.key_alias, m.ok, m.response_json,
    m.tokens_in, m.tokens_out, m.latency_ms, m.http_status, m.rate_limited, m.headers);
}
template <class V>
void Visit(V& v, ResultMsg& m) {
  v(m.job, m.lease, m.attempt, m.outcome);
}
template <class V>
void Visit(V& v, ByeMsg&) {
  v();
}
template <class V>
void Visit(V& v, WelcomeMsg& m) {
  v(m.epoch, m.hb_ms, m.liveness, m.lease_ms);
}
template <class V>
void Visit(V& v, JobMsg& m) {
  v(m.lease, m.attempt, m.spec);
}
template <class V>
void Visit(V& v, GrantMsg& m) {
  auto park = Opt(m.park);  // batch mode
  auto batch = Opt(m.batch);
  auto error = Opt(m.error);
  auto error_http_status = Opt(m.error_http_status);
  v(m.call_key, m.cached, m.response_json, park, batch, error, error_http_status);
}
template <class V>
void Visit(V& v, AckMsg& m) {
  v(m.job, m.lease);
}
template <class V>
void Visit(V& v, CancelMsg& m) {
  v(m.job, m.lease);
}
template <class V>
void Visit(V& v, ResetMsg&) {
  v();
}
template <class V>
void Visit(V& v, CoordHeartbeatMsg&) {
  v();
}
template <class V>
void Visit(V& v, SubmitMsg& m) {
  v(m.path, m.text, m.max_cells);
}
template <class V>
void Visit(V& v, WakeMsg&) {
  v();
}
template <class V>
void Visit(V& v, SubmittedMsg& m) {
  v(m.error, m.sweep_id, m.name, m.total, m.inserted);
}

template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};

// ---- encoding ----
class Writer {
 public:
  explicit Writer(msgpack::packer<msgpack::sbuffer>& pk) : pk_(pk) {}
  // Writes the fields as one array; `header` > 0 prepends [version, type].
  template <class... F>
  void operator()(F&... fields) {
    pk_.pack_array(static_cast<uint32_t>(sizeof...(fields) + (header_ ? 2 : 0)));
    if (header_) {
      pk_.pack(kProtocolVersion);
      pk_.pack(type_);
      header_ = false;
    }
    (Put(fields), ...);
  }
  void SetHeader(int type) {
    header_ = true;
    type_ = type;
  }

 private:
  void Put(bool b) { b ? pk_.pack_true() : pk_.pack_false(); }
  void Put(int x) { pk_.pack(static_cast<int64_t>(x)); }
  void Put(int64_t x) { pk_.pack(x); }
  void Put(uint64_t x) { pk_.pack(x); }
  void Put(double x) { pk_.pack_double(x); }
  void Put(const std::string& s) { pk_.pack(s); }
  template <class T>
  void Put(const Optional<T>& s) {
    Put(*s.value);
  }
  void Put(const std::optional<int64_t>& o) {
    if (o) {
      Put(*o);
    } else {
      pk_.pack_nil();
    }
  }
  void Put(const std::pair<std::string, std::string>& p) {
    pk_.pack_array(2);
    Put(p.first);
    Put(p.second);
  }
  template <class T>
  void Put(std::vector<T>& xs) {
    pk_.pack_array(static_cast<uint32_t>(xs.size()));
    for (auto& x : xs) Put(x);
  }
  void Put(std::vector<std::string>& xs) {
    pk_.pack_array(static_cast<uint32_t>(xs.size()));
    for (auto& x : xs) Put(x);
  }
  template <class T>
  requires requires(Writer& w, T& t) { Visit(w, t); }
  void Put(T& s) {
    Writer sub(pk_);
    Visit(sub, s);
  }

  msgpack::packer<msgpack::sbuffer>& pk_;
  bool header_ = false;
  int type_ = 0;
};

// ---- decoding ----
// Reads an array object into fields; on the first mismatch records an error and ignores the rest.
class Reader {
 public:
  Reader(const msgpack::object& obj, std::string* error, size_t skip = 0)
      : obj_(obj), error_(error), skip_(skip) {}
  template <class... F>
  void operator()(F&... fields) {
    if (!error_->empty()) return;
    if (obj_.type != msgpack::type::ARRAY) return Fail("expected array");
    constexpr size_t required = (size_t{0} + ... + (kIsOptional<F> ? size_t{0} : size_t{1}));
    if (obj_.via.array.size < required + skip_) return Fail("too few fields");
    size_t i = skip_;
    (GetAt(i++, fields), ...);
  }

 private:
  void Fail(const char* what) {
    if (error_->empty()) *error_ = what;
  }
  // Field `i`, where a frame may end before an Optional (required fields were counted).
  template <class F>
  void GetAt(size_t i, F& field) {
    if (i < obj_.via.array.size) Get(obj_.via.array.ptr[i], field);
  }
  template <class T>
  void Get(const msgpack::object& o, Optional<T>& x) {
    Get(o, *x.value);
  }
  bool Int(const msgpack::object& o, int64_t* out) {
    if (o.type == msgpack::type::POSITIVE_INTEGER) {
      if (o.via.u64 > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
      *out = static_cast<int64_t>(o.via.u64);
      return true;
    }
    if (o.type == msgpack::type::NEGATIVE_INTEGER) {
      *out = o.via.i64;
      return true;
    }
    return false;
  }
  void Get(const msgpack::object& o, int64_t& x) {
    if (!Int(o, &x)) Fail("expected integer");
  }
  void Get(const msgpack::object& o, int& x) {
    int64_t v = 0;
    if (!Int(o, &v) || v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
      return Fail("expected 32-bit integer");
    x = static_cast<int>(v);
  }
  void Get(const msgpack::object& o, uint64_t& x) {
    if (o.type != msgpack::type::POSITIVE_INTEGER) return Fail("expected unsigned integer");
    x = o.via.u64;
  }
  void Get(const msgpack::object& o, bool& x) {
    if (o.type != msgpack::type::BOOLEAN) return Fail("expected bool");
    x = o.via.boolean;
  }
  void Get(const msgpack::object& o, double& x) {
    if (o.type == msgpack::type::FLOAT64 || o.type == msgpack::type::FLOAT32) {
      x = o.via.f64;
      return;
    }
    int64_t v = 0;
    if (!Int(o, &v)) return Fail("expected number");
    x = static_cast<double>(v);
  }
  void Get(const msgpack::object& o, std::string& x) {
    if (o.type == msgpack::type::STR) {
      x.assign(o.via.str.ptr, o.via.str.size);
    } else if (o.type == msgpack::type::BIN) {
      x.assign(o.via.bin.ptr, o.via.bin.size);
    } else {
      Fail("expected string");
    }
  }
  void Get(const msgpack::object& o, std::optional<int64_t>& x) {
    if (o.type == msgpack::type::NIL) {
      x.reset();
      return;
    }
    int64_t v = 0;
    if (!Int(o, &v)) return Fail("expected integer or nil");
    x = v;
  }
  void Get(const msgpack::object& o, std::pair<std::string, std::string>& p) {
    if (o.type != msgpack::type::ARRAY || o.via.array.size != 2) return Fail("expected pair");
    Get(o.via.array.ptr[0], p.first);
    Get(o.via.array.ptr[1], p.second);
  }
  template <class T>
  void Get(const msgpack::object& o, std::vector<T>& xs) {
    if (o.type != msgpack::type::ARRAY) return Fail("expected array");
    xs.clear();
    xs.resize(o.via.array.size);
    for (uint32_t i = 0; i < o.via.array.size && error_->empty(); ++i)
      Get(o.via.array.ptr[i], xs[i]);
  }
  template <class T>
  requires requires(Reader& r, T& t) { Visit(r, t); }
  void Get(const msgpack::object& o, T& s) {
    Reader sub(o, error_);
    Visit(sub, s);
  }

  const msgpack::object& obj_;
  std::string* error_;
  size_t skip_;
};

template <size_t I = 0>
Result<Message> DecodeBody(int type, const msgpack::object& root, std::string* error) {
  if constexpr (I == std::variant_size_v<Message>) {
    return Status::InvalidArgument(Str("unknown message type ", type));
  } else {
    if (kTypeCodes[I] != type) return DecodeBody<I + 1>(type, root, error);
    std::variant_alternative_t<I, Message> msg;
    Reader reader(root, error, 2);
    Visit(reader, msg);
    if (!error->empty()) {
      return Status::InvalidArgument(Str("bad ", kNames[I], " frame: ", *error));
    }
    return Message(std::move(msg));
  }
}

}  // namespace

std::string Encode(const Message& msg) {
  msgpack::sbuffer buf(256);
  msgpack::packer<msgpack::sbuffer> pk(buf);
  std::visit(
      [&](const auto& m) {
        auto copy = m;  // Visit takes non-const refs (shared with decoding)
        Writer w(pk);
        w.SetHeader(kTypeCodes[msg.index()]);
        Visit(w, copy);
      },
      msg);
  return std::string(buf.data(), buf.size());
}

Result<Message> Decode(std::string_view frame, size_t max_bytes) {
  if (frame.size() > max_bytes) {
    return Status::ResourceExhausted(Str("frame of ", frame.size(), " bytes exceeds ", max_bytes));
  }
  if (frame.empty()) return Status::InvalidArgument("empty frame");
  try {
    // Bounded: no maps or ext, arrays up to 64 Ki elements, nesting depth 8.
    msgpack::unpack_limit limit(1 << 16, 0, max_bytes, max_bytes, 0, 8);
    size_t offset = 0;
    msgpack::object_handle oh =
        msgpack::unpack(frame.data(), frame.size(), offset, nullptr, nullptr, limit);
    if (offset != frame.size()) return Status::InvalidArgument("trailing bytes after frame");
    const msgpack::object& root = oh.get();
    if (root.type != msgpack::type::ARRAY || root.via.array.size < 2) {
      return Status::InvalidArgument("frame is not [version, type, ...]");
    }
    const msgpack::object& ver = root.via.array.ptr[0];
    const msgpack::object& typ = root.via.array.ptr[1];
    if (ver.type != msgpack::type::POSITIVE_INTEGER ||
        typ.type != msgpack::type::POSITIVE_INTEGER) {
      return Status::InvalidArgument("frame version/type are not integers");
    }
    if (ver.via.u64 != static_cast<uint64_t>(kProtocolVersion)) {
      return Status::InvalidArgument(
          Str("protocol version ", ver.via.u64, " (expected ", kProtocolVersion, ")"));
    }
    if (typ.via.u64 > 1000) return Status::InvalidArgument("unknown message type");
    std::string error;
    return DecodeBody(static_cast<int>(typ.via.u64), root, &error);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(Str("malformed frame: ", e.what()));
  } catch (...) {
    return Status::InvalidArgument("malformed frame");
  }
}

std::string_view MessageName(const Message& msg) { return kNames[msg.index()]; }

}  // namespace codesweep
