// Slots across models (DispatchLanes in CoordinatorCore): with two models of very different
// limits in one sweep, the jobs of the model whose bucket would make them wait do not take the
// slots the other model's jobs could use. FakeClock, a temporary Store, a ClusterRateLimiter;
// the worker is played by hand (JOB -> CALL -> CALL_RESULT -> RESULT + CREDIT).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "coordinator/coordinator_core.h"
#include "coordinator/ratelimit/cluster_limiter.h"

namespace codesweep {
namespace {

class RateLanesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cs_ratelanes_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    Build(kPerModel, kPerModel, 60, kSlots);
  }
  // A sweep of `slow_jobs` jobs of openai:slow (`slow_rpm` requests/min) and `fast_jobs` of
  // openai:fast (1,200/min), in the order slow, fast, slow, ... while both have jobs left, and a
  // worker w1 with `slots` slots.
  void Build(int slow_jobs, int fast_jobs, int slow_rpm, int slots) {
    core_.reset();
    limiter_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_ / "db");
    model_of_.clear();
    variants_.clear();
    running_.clear();
    granted_.clear();
    Result<std::unique_ptr<Store>> s = Store::Open((dir_ / "db").string(), {});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    std::string config = R"({"models":[{"id":"openai:fast","key_alias":"K","limits":{"rpm":1200}},)"
                         R"({"id":"openai:slow","key_alias":"K","limits":{"rpm":)" +
                         std::to_string(slow_rpm) + "}}]}";
    Result<int64_t> sid = store_->UpsertSweep({"t", 7, 3, "t.toml", "", config});
    ASSERT_TRUE(sid.ok());
    std::vector<CellRow> cells;
    for (const char* model : {"slow", "fast"}) {
      VariantRecord v;
      v.model = {std::string("openai:") + model, "openai", model, "{}"};
      Result<int64_t> vid = store_->UpsertVariant(v);
      ASSERT_TRUE(vid.ok());
      model_of_[*vid] = model;
      variants_.push_back(*vid);
    }
    for (int i = 0, slow = 0, fast = 0; slow < slow_jobs || fast < fast_jobs; ++i) {
      const bool is_slow = fast >= fast_jobs || (slow < slow_jobs && (slow <= fast));
      cells.push_back({CellKey("cell" + std::to_string(i)), "game24", "4", i,
                       variants_[is_slow ? 0 : 1], "only_question", 1});
      ++(is_slow ? slow : fast);
    }
    ASSERT_TRUE(store_->BeginCellLoad().ok());
    ASSERT_TRUE(store_->InsertCells(*sid, cells).ok());
    ASSERT_TRUE(store_->FinishCellLoad().ok());
    ASSERT_TRUE(store_->Commit().ok());
    RateLimiterOptions rate;
    rate.burst_ms = 1'000;
    limiter_ = std::make_unique<ClusterRateLimiter>(rate);
    core_ = std::make_unique<CoordinatorCore>(*store_, clock_, Logger::Null(), *limiter_,
                                              CoordinatorOptions{});
    ASSERT_TRUE(core_->Start().ok());
    HelloMsg h;
    h.worker_id = "w1";
    h.slots = slots;
    core_->OnMessage("w1", h);
  }
  void TearDown() override {
    core_.reset();
    limiter_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  // Dispatches; every JOB sent sends its CALL at once (as a worker slot would). Returns the
  // models of the jobs leased, in order.
  std::vector<std::string> Step() {
    core_->Tick();
    core_->Dispatch();
    core_->MaybeCommit(true);
    std::vector<std::string> leased;
    std::vector<Outgoing> out = core_->TakeOutbox();
    while (!out.empty()) {
      for (const Outgoing& o : out) {
        if (auto* grant = std::get_if<GrantMsg>(&o.msg)) granted_.insert(grant->call_key);
        auto* job = std::get_if<JobMsg>(&o.msg);
        if (job == nullptr) continue;
        const std::string model = job->spec.model.name;
        leased.push_back(model);
        CallMsg call{job->spec.job.value(),
                     job->lease,
                     "key" + std::to_string(job->lease),
                     "openai",
                     model,
                     "K",
                     10};
        running_[call.call_key] = {*job, call};
        core_->OnMessage("w1", call);
      }
      out = core_->TakeOutbox();
    }
    return leased;
  }
  // The granted calls of `model` finish: CALL_RESULT, RESULT and the slot's credit back.
  void Finish(const std::string& model) {
    for (auto it = running_.begin(); it != running_.end();) {
      const auto& [job, call] = it->second;
      if (call.model != model || !granted_.count(call.call_key)) {
        ++it;
        continue;
      }
      CallResultMsg r;
      r.call_key = call.call_key;
      r.provider = call.provider;
      r.model = call.model;
      r.key_alias = call.key_alias;
      r.ok = true;
      r.http_status = 200;
      r.response_json = R"({"content":"x"})";
      core_->OnMessage("w1", r);
      Outcome outcome;
      outcome.final_answer = "x";
      core_->OnMessage("w1", ResultMsg{job.spec.job.value(), job.lease, job.attempt, outcome});
      core_->OnMessage("w1", CreditMsg{1});
      granted_.erase(call.call_key);
      it = running_.erase(it);
    }
  }
  static int Count(const std::vector<std::string>& v, const std::string& model) {
    return static_cast<int>(std::count(v.begin(), v.end(), model));
  }

  static constexpr int kPerModel = 40;
  static constexpr int kSlots = 8;
  static inline int counter_ = 0;
  std::filesystem::path dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ClusterRateLimiter> limiter_;
  std::unique_ptr<CoordinatorCore> core_;
  std::vector<int64_t> variants_;
  std::map<int64_t, std::string> model_of_;
  std::map<std::string, std::pair<JobMsg, CallMsg>> running_;  // call key -> (job, call)
  std::set<std::string> granted_;                              // call keys granted
};

TEST_F(RateLanesTest, FastModelIsNotStarvedOfSlotsBySlowModelsWaitingJobs) {
  core_->OnMessage("w1", CreditMsg{kSlots});
  std::vector<std::string> first = Step();
  ASSERT_EQ(first.size(), static_cast<size_t>(kSlots));
  // Before any CALL the coordinator cannot know a job's bucket: the sweep's order.
  EXPECT_EQ(Count(first, "slow"), kSlots / 2);
  // The fast calls finish in 1 s; the slow bucket granted one call, the others wait for it.
  std::vector<std::string> later;
  for (int second = 0; second < 5; ++second) {
    clock_.Advance(Millis(1'000));
    Finish("fast");
    Finish("slow");
    std::vector<std::string> leased = Step();
    later.insert(later.end(), leased.begin(), leased.end());
  }
  // The slow bucket grants one call a second: the freed slots go to the fast model's jobs, but
  // for about one slow job a second that keeps its bucket busy. In the sweep's order (without
  // lanes) every other slot would go to a slow job that then waits for its grant.
  ASSERT_GE(later.size(), 20u);
  EXPECT_LE(Count(later, "slow"), 6)
      << "slow jobs leased: " << Count(later, "slow") << " of " << later.size();
}

TEST_F(RateLanesTest, SlowModelJobsStillGoWhenNothingElseIsPending) {
  core_->OnMessage("w1", CreditMsg{kSlots});
  (void)Step();
  int slow_done = 0;
  for (int second = 0; second < 200 && slow_done < kPerModel; ++second) {
    clock_.Advance(Millis(1'000));
    Finish("fast");
    size_t before = running_.size();
    Finish("slow");
    slow_done += static_cast<int>(before - running_.size());
    (void)Step();
  }
  // Every slow job ran, one a second, once the fast ones were done: nothing is left behind.
  EXPECT_EQ(slow_done, kPerModel);
  EXPECT_EQ(core_->progress().terminal, 2 * kPerModel);
}

// Two models that both have room in their buckets, and fewer slots than their limits could use
// (the peer benchmark's two-model sweep: 32 slots, 1,200 + 600 requests/min at 1 s latency):
// which model gets a freed slot decides when the sweep ends. The 600/min model has as many jobs
// as the 1,200/min one, so it needs twice as long: each second its bucket's whole budget must
// go out, and the fast model takes the slots left. Before, the buffer's order (slow, fast, ...)
// split the slots half and half: 6 slow jobs a second of the 9 its bucket held, so the slow
// model, and with it the sweep, ended later.
TEST_F(RateLanesTest, ModelWithTheMostWorkLeftGetsTheSlotsItsBucketCanUse) {
  Build(40, 40, 600, 12);
  core_->OnMessage("w1", CreditMsg{12});
  std::vector<std::string> first = Step();
  ASSERT_EQ(first.size(), 12u);  // before any CALL: the sweep's order
  for (int second = 1; second <= 3; ++second) {
    clock_.Advance(Millis(1'000));
    Finish("fast");
    Finish("slow");
    std::vector<std::string> leased = Step();
    ASSERT_EQ(leased.size(), 12u) << "second " << second;
    // The slow bucket (600/min, 0.9 s of refill: 9 requests) is full again each second.
    EXPECT_EQ(Count(leased, "slow"), 9) << "second " << second;
    EXPECT_EQ(Count(leased, "fast"), 3) << "second " << second;
  }
}

// The order follows the work left, not the limit: with few jobs of the slow model and many of
// the fast one, the fast model's bucket is the one the sweep waits for, and it takes the slots
// while it can use them; the slow model's few jobs still run (at the end here).
TEST_F(RateLanesTest, FastModelGoesFirstWhenItHasTheMostWorkLeft) {
  Build(10, 100, 600, 12);
  core_->OnMessage("w1", CreditMsg{12});
  std::vector<std::string> first = Step();
  ASSERT_EQ(Count(first, "slow"), 6);  // before any CALL: the sweep's order
  clock_.Advance(Millis(1'000));
  Finish("fast");
  Finish("slow");
  std::vector<std::string> leased = Step();
  ASSERT_EQ(leased.size(), 12u);
  EXPECT_EQ(Count(leased, "fast"), 12) << "slow jobs leased: " << Count(leased, "slow");
  int done = 0;
  for (int second = 0; second < 60 && core_->progress().terminal < 110; ++second) {
    clock_.Advance(Millis(1'000));
    Finish("fast");
    Finish("slow");
    (void)Step();
    done = static_cast<int>(core_->progress().terminal);
  }
  EXPECT_EQ(done, 110);
}

}  // namespace
}  // namespace codesweep
