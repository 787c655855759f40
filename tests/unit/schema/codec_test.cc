// Codec: round trips of every message, golden bytes pinning the format, and rejection of
// malformed, truncated, oversized and wrong-version frames (including a bounded fuzz).
#include "schema/codec.h"

#include <gtest/gtest.h>

#include <string>

#include "base/hash.h"

namespace codesweep {
namespace {

std::string Hex(std::string_view s) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

JobSpec SampleSpec() {
  JobSpec spec;
  spec.job = JobId(42);
  spec.cell = CellKey("abc123");
  spec.sweep = "quickstart";
  spec.task = "game24";
  spec.complexity = "4";
  spec.sample = 7;
  spec.seed = 0xFFFFFFFFFFFFFFFFull;
  spec.model = {"sim:default", "sim", "default", R"({"p_code":0})"};
  spec.method = "only_question";
  spec.turns = 3;
  spec.gen.temperature = 0.5;
  spec.gen.seed = -5;
  spec.gen.stop = {"END", "\n\n"};
  spec.sandbox_json = R"({"wall_ms":100})";
  return spec;
}

Outcome SampleOutcome() {
  Outcome o;
  o.final_answer = "<<<24>>>";
  o.correct = true;
  o.score = 1.0;
  o.passed_by = "code";
  o.code_used = true;
  o.turns_used = 2;
  o.tokens_in = 100;
  o.tokens_out = 20;
  o.cost_usd = 0.25;
  CallRecord call;
  call.index = 1;
  call.call_key = "k";
  call.request_json = "{}";
  call.response_json = std::string("bin\0ary", 7);
  call.cached = true;
  o.calls = {call, call};
  ExecutionRecord exec;
  exec.code = "print(1)";
  exec.status = "ok";
  exec.stdout_text = "1\n";
  exec.signal = 9;
  exec.tier = "A";
  o.executions = {exec};
  return o;
}

std::vector<Message> AllSamples() {
  CallResultMsg cr;
  cr.job = 1;
  cr.call_key = "ck";
  cr.ok = true;
  cr.response_json = R"({"content":"x"})";
  cr.headers = {{"x-ratelimit-remaining", "5"}};
  return {
      HelloMsg{1, "w1", "host", 123, 64, {"gpu"}, {{1, 2}, {3, 4}}, {{5, 6}}},
      CreditMsg{17},
      HeartbeatMsg{{{9, 10}}},
      CallMsg{1, 2, "ck", "openai", "gpt-4o", "OPENAI_API_KEY", 1500},
      cr,
      ResultMsg{42, 7, 2, SampleOutcome()},
      ByeMsg{},
      WelcomeMsg{99, 1000, 3, 60000},
      JobMsg{7, 2, SampleSpec()},
      GrantMsg{"ck", true, "{}"},
      AckMsg{42, 7},
      CancelMsg{42, 7},
      ResetMsg{},
      CoordHeartbeatMsg{},
      SubmitMsg{"s.toml", "name = \"s\"\n", 100},
      WakeMsg{},
      SubmittedMsg{"", 3, "s", 12, 4},
  };
}

TEST(CodecTest, RoundTripsEveryMessage) {
  std::vector<Message> samples = AllSamples();
  ASSERT_EQ(samples.size(), std::variant_size_v<Message>);
  for (const Message& m : samples) {
    std::string frame = Encode(m);
    Result<Message> back = Decode(frame);
    ASSERT_TRUE(back.ok()) << MessageName(m) << ": " << back.status().ToString();
    EXPECT_EQ(back->index(), m.index());
    EXPECT_EQ(Encode(*back), frame) << MessageName(m);
  }
}

TEST(CodecTest, RoundTripKeepsFields) {
  Result<Message> job = Decode(Encode(JobMsg{7, 2, SampleSpec()}));
  ASSERT_TRUE(job.ok());
  const JobSpec& spec = std::get<JobMsg>(*job).spec;
  EXPECT_EQ(spec.job, JobId(42));
  EXPECT_EQ(spec.cell, CellKey("abc123"));
  EXPECT_EQ(spec.seed, 0xFFFFFFFFFFFFFFFFull);
  EXPECT_EQ(spec.gen.seed, std::optional<int64_t>(-5));
  EXPECT_EQ(spec.gen.stop.size(), 2u);
  EXPECT_EQ(spec.model.options_json, R"({"p_code":0})");
  EXPECT_DOUBLE_EQ(spec.gen.temperature, 0.5);
  EXPECT_EQ(spec.method_json, "");
  // A declared method's definition travels in the last field.
  JobSpec declared = SampleSpec();
  declared.method = "my_cot";
  declared.method_json = R"({"name":"my_cot","prompt":"{task_prompt}"})";
  Result<Message> declared_job = Decode(Encode(JobMsg{7, 2, declared}));
  ASSERT_TRUE(declared_job.ok());
  EXPECT_EQ(std::get<JobMsg>(*declared_job).spec.method_json, declared.method_json);

  Result<Message> res = Decode(Encode(ResultMsg{42, 7, 2, SampleOutcome()}));
  ASSERT_TRUE(res.ok());
  const Outcome& o = std::get<ResultMsg>(*res).outcome;
  EXPECT_TRUE(o.correct);
  ASSERT_EQ(o.calls.size(), 2u);
  EXPECT_EQ(o.calls[1].response_json, std::string("bin\0ary", 7));
  ASSERT_EQ(o.executions.size(), 1u);
  EXPECT_EQ(o.executions[0].signal, 9);
}

TEST(CodecTest, GoldenBytes) {
  EXPECT_EQ(Hex(Encode(CreditMsg{17})), "93010211");
  EXPECT_EQ(Hex(Encode(AckMsg{42, 7})), "9401172a07");
  EXPECT_EQ(Hex(Encode(ResetMsg{})), "920119");
  EXPECT_EQ(Hex(Encode(HelloMsg{1, "w1", "h", 5, 2, {}, {{1, 2}}, {}})),
            "9a010101a27731a16805029091920102"
            "90");
  EXPECT_EQ(Hex(Encode(WelcomeMsg{3, 1000, 3, 60000})),
            "960114"
            "03cd03e803cdea60");
  // GRANT gained park, batch, error and error_http_status (batch mode).
  EXPECT_EQ(Hex(Encode(GrantMsg{"k", false, ""})), "990116a16bc2a0c2c2a000");
  // Client messages (codesweep submit / retry --connect): SUBMIT 8, WAKE 9, SUBMITTED 27.
  EXPECT_EQ(Hex(Encode(SubmitMsg{"p", "t", 5})), "950108a170a17405");
  EXPECT_EQ(Hex(Encode(WakeMsg{})), "920109");
  EXPECT_EQ(Hex(Encode(SubmittedMsg{"", 1, "s", 2, 1})),
            "9701"
            "1ba001a17302"
            "01");
  // JobSpec gained its epoch (repeated cells): one more array element; then task_def and
  // task_row (declared tasks) and method_json (declared methods): three more; then
  // replay_executions (batch mode): one more.
  EXPECT_EQ(Sha256Hex(Encode(JobMsg{7, 2, SampleSpec()})).substr(0, 16), "5779c627222ff2a6");
}

// JobSpec gained task_def, task_row (declared tasks) and method_json (declared methods) as
// optional trailing fields: a JOB frame from a coordinator that predates them still decodes, with
// them empty, and they round-trip.
TEST(CodecTest, JobSpecDeclaredTaskFieldsAreOptional) {
  JobSpec declared = SampleSpec();
  declared.task_def = R"({"name":"t"})";
  declared.task_row = R"({"q":"1"})";
  declared.method_json = R"({"name":"m"})";
  Result<Message> back = Decode(Encode(JobMsg{7, 2, declared}));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(std::get<JobMsg>(*back).spec.task_def, declared.task_def);
  EXPECT_EQ(std::get<JobMsg>(*back).spec.task_row, declared.task_row);
  EXPECT_EQ(std::get<JobMsg>(*back).spec.method_json, declared.method_json);

  std::string frame = Encode(JobMsg{7, 2, SampleSpec()});
  ASSERT_EQ(frame.substr(5, 3), std::string("\xdc\x00\x11", 3));  // the JobSpec: 17 fields
  // Three empty strings and an empty array (replay_executions) at its end.
  ASSERT_EQ(frame.substr(frame.size() - 4), "\xa0\xa0\xa0\x90");
  std::string old_frame = frame.substr(0, frame.size() - 4);
  old_frame.replace(5, 3, "\x9d");  // 13 fields, as before
  Result<Message> old = Decode(old_frame);
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(std::get<JobMsg>(*old).spec.epoch, 0);
  EXPECT_TRUE(std::get<JobMsg>(*old).spec.task_def.empty());
  EXPECT_TRUE(std::get<JobMsg>(*old).spec.task_row.empty());
  EXPECT_TRUE(std::get<JobMsg>(*old).spec.method_json.empty());
  // One field fewer than that is still too few.
  std::string short_frame = old_frame.substr(0, old_frame.size() - 1);
  short_frame[5] = static_cast<char>(0x9c);
  EXPECT_FALSE(Decode(short_frame).ok());
}

// Batch mode's fields are optional trailing fields too: a GRANT from a coordinator without batch
// mode still decodes (nothing parked, no batch error), and they round-trip.
TEST(CodecTest, BatchFieldsAreOptional) {
  GrantMsg grant{"k", false, ""};
  grant.park = true;
  grant.batch = true;
  grant.error = "boom";
  grant.error_http_status = 500;
  Result<Message> back = Decode(Encode(grant));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(std::get<GrantMsg>(*back).park);
  EXPECT_TRUE(std::get<GrantMsg>(*back).batch);
  EXPECT_EQ(std::get<GrantMsg>(*back).error, "boom");
  EXPECT_EQ(std::get<GrantMsg>(*back).error_http_status, 500);

  // The GRANT of a peer before batch mode: 3 fields ("\x95" = header + type + 3).
  Result<Message> old = Decode(std::string("\x95\x01\x16\xa1k\xc2\xa0", 7));
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_FALSE(std::get<GrantMsg>(*old).park);
  EXPECT_FALSE(std::get<GrantMsg>(*old).batch);
  EXPECT_EQ(std::get<GrantMsg>(*old).error_http_status, 0);

  JobSpec spec = SampleSpec();
  ExecutionRecord e;
  e.index = 0;
  e.code = "print(1)";
  e.status = "ok";
  e.stdout_text = "1\n";
  spec.replay_executions.push_back(e);
  Result<Message> job = Decode(Encode(JobMsg{7, 2, spec}));
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  ASSERT_EQ(std::get<JobMsg>(job.value()).spec.replay_executions.size(), 1u);
  EXPECT_EQ(std::get<JobMsg>(job.value()).spec.replay_executions[0].stdout_text, "1\n");
}

TEST(CodecTest, RejectsWrongVersion) {
  std::string frame = Encode(CreditMsg{1});
  frame[1] = 2;  // version field
  Result<Message> r = Decode(frame);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("version"), std::string::npos);
}

TEST(CodecTest, RejectsEveryTruncation) {
  for (const Message& m : AllSamples()) {
    std::string frame = Encode(m);
    for (size_t n = 0; n < frame.size(); ++n) {
      EXPECT_FALSE(Decode(frame.substr(0, n)).ok()) << MessageName(m) << " cut at " << n;
    }
  }
}

TEST(CodecTest, RejectsTrailingBytesUnknownTypeAndBadFields) {
  EXPECT_FALSE(Decode(Encode(CreditMsg{1}) + "x").ok());
  EXPECT_FALSE(Decode(std::string("\x93\x01\x63\x01", 4)).ok());   // type 99
  EXPECT_FALSE(Decode(std::string("\x93\x01\x02\xa1x", 5)).ok());  // CREDIT n = "x"
  EXPECT_FALSE(Decode(std::string("\x92\x01", 2)).ok());           // truncated array
  EXPECT_FALSE(Decode(std::string("\x81\x01\x02", 3)).ok());       // a map
  EXPECT_FALSE(Decode("").ok());
  // A 32-bit field given a 64-bit value.
  EXPECT_FALSE(Decode(std::string("\x93\x01\x02\xcf\x00\x00\x00\x01\x00\x00\x00\x00", 12)).ok());
  // Extra trailing fields are accepted (additive evolution).
  EXPECT_TRUE(Decode(std::string("\x94\x01\x02\x05\xc0", 5)).ok());
}

TEST(CodecTest, RejectsOversizedFrames) {
  std::string frame = Encode(CreditMsg{1});
  Result<Message> r = Decode(frame, 3);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  // A huge declared array length with no data behind it.
  EXPECT_FALSE(Decode(std::string("\xdd\xff\xff\xff\xff\x01", 6)).ok());
  EXPECT_FALSE(Decode(std::string("\x93\x01\x02\xdb\xff\xff\xff\xff", 8)).ok());
}

// Frames nested 100,000 deep (arrays or maps) are refused by the unpacker's depth limit before
// anything walks them; msgpack's object tree would otherwise be visited recursively.
TEST(CodecTest, DeepNestingIsRejected) {
  for (char open : {'\x91', '\x81'}) {     // fixarray of 1, fixmap of 1
    std::string frame("\x93\x01\x15", 3);  // [version, JOB, ...]
    for (int i = 0; i < 100'000; ++i) {
      frame += open;
      if (open == '\x81') frame += '\x01';  // map key
    }
    frame += '\x01';
    Result<Message> r = Decode(frame);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
}

// Structure-aware mutations: spliced frames, nesting runs, huge lengths and extension types.
TEST(CodecTest, StructuredFuzzNeverCrashes) {
  Rng rng(99);
  std::vector<std::string> seeds;
  for (const Message& m : AllSamples()) seeds.push_back(Encode(m));
  const std::string pieces[] = {std::string("\x91", 1),
                                std::string("\xdc\xff\xff", 3),
                                std::string("\xdd\x7f\xff\xff\xff", 5),
                                std::string("\xc7\x01\x05\x00", 4),
                                std::string("\xc0", 1),
                                std::string("\xdb\xff\xff\xff\x7f", 5),
                                std::string("\x81", 1),
                                std::string("\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9)};
  for (int i = 0; i < 20000; ++i) {
    std::string bytes = seeds[rng.Uniform(0, static_cast<int64_t>(seeds.size()) - 1)];
    size_t pos = static_cast<size_t>(rng.Uniform(0, static_cast<int64_t>(bytes.size())));
    const std::string& piece = pieces[rng.Uniform(0, std::size(pieces) - 1)];
    std::string run;
    for (int64_t n = rng.Uniform(1, rng.Bernoulli(0.1) ? 5000 : 3); n > 0; --n) run += piece;
    bytes.insert(pos, run);
    if (rng.Bernoulli(0.3)) bytes += seeds[rng.Uniform(0, static_cast<int64_t>(seeds.size()) - 1)];
    Result<Message> r = Decode(bytes);
    if (r.ok()) {
      EXPECT_TRUE(Decode(Encode(*r)).ok());
    } else {
      EXPECT_FALSE(r.status().message().empty());
    }
  }
}

TEST(CodecTest, FuzzNeverCrashes) {
  Rng rng(1234);
  std::vector<std::string> seeds;
  for (const Message& m : AllSamples()) seeds.push_back(Encode(m));
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes;
    if (i % 2 == 0) {
      bytes = seeds[rng.Uniform(0, static_cast<int64_t>(seeds.size()) - 1)];
      int flips = static_cast<int>(rng.Uniform(1, 4));
      for (int f = 0; f < flips && !bytes.empty(); ++f) {
        size_t pos = rng.Uniform(0, static_cast<int64_t>(bytes.size()) - 1);
        bytes[pos] = static_cast<char>(rng.Uniform(0, 255));
      }
    } else {
      int64_t len = rng.Uniform(0, 64);
      for (int64_t j = 0; j < len; ++j) bytes += static_cast<char>(rng.Uniform(0, 255));
    }
    Result<Message> r = Decode(bytes);
    if (r.ok()) {
      ++accepted;
      EXPECT_TRUE(Decode(Encode(*r)).ok());
    }
  }
  EXPECT_LT(accepted, 20000);
}

}  // namespace
}  // namespace codesweep
