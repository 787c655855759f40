// HttpEngine over curl multi handles, each driven by one thread through curl's socket interface:
// epoll reports the sockets that are ready and only their transfers are touched, so the cost of
// a wake-up does not grow with the number of transfers in flight. Several such engines (shards)
// keep each connection cache small.
#include "jobs/llm/http.h"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "base/log.h"

namespace codesweep {
namespace {

struct Transfer {
  HttpRequest request;
  HttpResponse response;
  HttpEngine::Callback done;
  CURL* easy = nullptr;
  curl_slist* header_list = nullptr;
  bool too_large = false;
  char error[CURL_ERROR_SIZE] = {0};

  ~Transfer() {
    if (header_list != nullptr) curl_slist_free_all(header_list);
    if (easy != nullptr) curl_easy_cleanup(easy);
  }
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t bytes = size * n;
  if (static_cast<int64_t>(t->response.body.size() + bytes) > t->request.max_response_bytes) {
    t->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  t->response.body.append(data, bytes);
  return bytes;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    t->response.headers.clear();  // a new response (e.g. after 100-continue)
    return size * n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  t->response.headers.emplace_back(std::move(name), std::string(value));
  return size * n;
}

Status TransportStatus(CURLcode code, const Transfer& t) {
  std::string detail = t.error[0] != 0 ? std::string(t.error) : curl_easy_strerror(code);
  if (t.too_large) {
    return Status::ResourceExhausted(
        Str("response body larger than ", t.request.max_response_bytes, " bytes"));
  }
  if (code == CURLE_OPERATION_TIMEDOUT) return Status::DeadlineExceeded("http timeout: " + detail);
  return Status::Unavailable("http transport: " + detail);
}

class CurlEngine final : public HttpEngine {
 public:
  explicit CurlEngine(const HttpEngineOptions& options) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    wake_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    epoll_event ev{.events = EPOLLIN, .data = {.fd = wake_}};
    epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &ev);
    multi_ = curl_multi_init();
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(options.max_connections));
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS,
                      static_cast<long>(options.max_host_connections));
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, OnSocket);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, OnTimer);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    thread_ = std::thread([this] { Loop(); });
  }

  ~CurlEngine() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    Wake();
    thread_.join();
    curl_multi_cleanup(multi_);
    close(wake_);
    close(epoll_);
  }

  Result<HttpResponse> Send(HttpRequest request) override {
    std::promise<Result<HttpResponse>> promise;
    std::future<Result<HttpResponse>> future = promise.get_future();
    SendAsync(std::move(request),
              [&promise](Result<HttpResponse> r) { promise.set_value(std::move(r)); });
    return future.get();
  }

  void SendAsync(HttpRequest request, Callback done) override {
    auto t = std::make_unique<Transfer>();
    t->request = std::move(request);
    t->done = std::move(done);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) {
        t->done(Status::Unavailable("http engine stopped"));
        return;
      }
      pending_.push_back(std::move(t));
    }
    in_flight_.fetch_add(1);
    Wake();
  }

  int64_t in_flight() const override { return in_flight_.load(); }

 private:
  Status Prepare(Transfer* t) {
    t->easy = curl_easy_init();
    if (t->easy == nullptr) return Status::Internal("curl_easy_init failed");
    CURL* e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, t->request.url.c_str());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(t->request.connect_timeout_ms));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(std::max<int64_t>(1, t->request.timeout_ms)));
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    if (t->request.method == "POST") {
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->request.body.c_str());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(t->request.body.size()));
    } else if (t->request.method != "GET") {
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, t->request.method.c_str());
    }
    t->header_list = curl_slist_append(t->header_list, "Expect:");
    for (const auto& [name, value] : t->request.headers) {
      t->header_list = curl_slist_append(t->header_list, (name + ": " + value).c_str());
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->header_list);
    return Status::OK();
  }

  void Finish(Transfer* raw, CURLcode code) {
    std::unique_ptr<Transfer> t(raw);
    active_.erase(raw);
    curl_multi_remove_handle(multi_, t->easy);
    in_flight_.fetch_sub(1);
    if (code != CURLE_OK) {
      t->done(TransportStatus(code, *t));
      return;
    }
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    t->response.status = static_cast<int>(status);
    t->done(std::move(t->response));
  }

  void AddPending() {
    std::deque<std::unique_ptr<Transfer>> batch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      batch.swap(pending_);
    }
    for (auto& t : batch) {
      Status s = Prepare(t.get());
      if (s.ok() && curl_multi_add_handle(multi_, t->easy) == CURLM_OK) {
        active_.insert(t.release());  // owned through active_ until Finish
        continue;
      }
      in_flight_.fetch_sub(1);
      t->done(s.ok() ? Status::Internal("curl_multi_add_handle failed") : s);
    }
  }

  void Wake() {
    const uint64_t one = 1;
    while (write(wake_, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
  }

  // curl asks to watch `s` for `what`, or to stop watching it.
  static int OnSocket(CURL*, curl_socket_t s, int what, void* self, void*) {
    const int ep = static_cast<CurlEngine*>(self)->epoll_;
    if (what == CURL_POLL_REMOVE) {
      epoll_ctl(ep, EPOLL_CTL_DEL, s, nullptr);
      return 0;
    }
    epoll_event ev{};
    if (what & CURL_POLL_IN) ev.events |= EPOLLIN;
    if (what & CURL_POLL_OUT) ev.events |= EPOLLOUT;
    ev.data.fd = s;
    if (epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT) {
      epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
    }
    return 0;
  }

  // curl asks to be called back (CURL_SOCKET_TIMEOUT) after timeout_ms; -1 = no timer.
  static int OnTimer(CURLM*, long timeout_ms, void* self) {
    auto* e = static_cast<CurlEngine*>(self);
    e->timer_set_ = timeout_ms >= 0;
    e->timer_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    return 0;
  }

  int EpollTimeoutMs() const {
    if (!timer_set_) return -1;
    const int64_t left_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                timer_at_ - std::chrono::steady_clock::now())
                                .count();
    return left_us <= 0 ? 0 : static_cast<int>(std::min<int64_t>((left_us + 999) / 1000, 60'000));
  }

  void Loop() {
    epoll_event events[256];
    int running = 0;
    while (true) {
      const int n = epoll_wait(epoll_, events, 256, EpollTimeoutMs());
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == wake_) {
          uint64_t count = 0;
          while (read(wake_, &count, sizeof(count)) > 0) {
          }
          continue;
        }
        const uint32_t ev = events[i].events;
        const int flags = (ev & EPOLLIN ? CURL_CSELECT_IN : 0) |
                          (ev & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                          (ev & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(multi_, fd, flags, &running);
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) break;
      }
      AddPending();  // curl arms a 0 ms timer for every added transfer
      if (timer_set_ && std::chrono::steady_clock::now() >= timer_at_) {
        timer_set_ = false;
        curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
      }
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi_, &queued)) {
        if (msg->msg != CURLMSG_DONE) continue;
        Transfer* t = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
        Finish(t, msg->data.result);
      }
    }
    CancelAll();
  }

  void CancelAll() {
    std::deque<std::unique_ptr<Transfer>> batch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      batch.swap(pending_);
    }
    for (auto& t : batch) {
      in_flight_.fetch_sub(1);
      t->done(Status::Unavailable("http engine stopped"));
    }
    while (!active_.empty()) Finish(*active_.begin(), CURLE_ABORTED_BY_CALLBACK);
  }

  CURLM* multi_ = nullptr;
  int epoll_ = -1;
  int wake_ = -1;           // eventfd: SendAsync and the destructor wake the loop
  bool timer_set_ = false;  // curl's timer (engine thread only)
  std::chrono::steady_clock::time_point timer_at_;
  std::thread thread_;
  std::mutex mu_;
  bool stop_ = false;
  std::deque<std::unique_ptr<Transfer>> pending_;
  std::unordered_set<Transfer*> active_;  // engine thread only
  std::atomic<int64_t> in_flight_{0};
};

// Several CurlEngines, each with its own multi handle, connection cache and thread; a request
// goes to the one with the fewest transfers in flight (the first on a tie, so light traffic keeps
// reusing one connection). curl looks for a reusable connection by walking every connection to
// the host in its cache, once per transfer: with 10,000 calls in flight on one multi handle that
// walk was the largest part of the client's CPU (issue 16).
class ShardedEngine final : public HttpEngine {
 public:
  ShardedEngine(const HttpEngineOptions& options, int shards) {
    for (int i = 0; i < shards; ++i) shards_.push_back(std::make_unique<CurlEngine>(options));
  }
  Result<HttpResponse> Send(HttpRequest request) override {
    return Pick().Send(std::move(request));
  }
  void SendAsync(HttpRequest request, Callback done) override {
    Pick().SendAsync(std::move(request), std::move(done));
  }
  int64_t in_flight() const override {
    int64_t n = 0;
    for (const auto& s : shards_) n += s->in_flight();
    return n;
  }

 private:
  CurlEngine& Pick() {
    CurlEngine* best = shards_[0].get();
    int64_t least = best->in_flight();
    for (size_t i = 1; i < shards_.size() && least > 0; ++i) {
      const int64_t n = shards_[i]->in_flight();
      if (n < least) {
        least = n;
        best = shards_[i].get();
      }
    }
    return *best;
  }
  std::vector<std::unique_ptr<CurlEngine>> shards_;
};

}  // namespace

Result<std::shared_ptr<HttpEngine>> MakeHttpEngine(const HttpEngineOptions& options) {
  static std::once_flag once;
  static CURLcode init = CURLE_OK;
  std::call_once(once, [] { init = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (init != CURLE_OK) return Status::Internal("curl_global_init failed");
  if (options.shards <= 1)
    return std::shared_ptr<HttpEngine>(std::make_shared<CurlEngine>(options));
  return std::shared_ptr<HttpEngine>(std::make_shared<ShardedEngine>(options, options.shards));
}

}  // namespace codesweep
