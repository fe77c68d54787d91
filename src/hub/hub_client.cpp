// hub/hub_client.cpp — libcurl requests to the hub: JSON revision info, HEAD for file
// metadata (without following the LFS redirect, whose target becomes the download URL),
// ranged GETs into a part file with the hash kept as bytes arrive.
#include "hub/hub_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/check.h"
#include "core/log.h"
#include "hub/checksum.h"

namespace rotor::hub {
namespace fs = std::filesystem;
namespace {

constexpr int kRetries = 5;

void global_init() {
  static const bool done = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  ROTOR_CHECK(done, "libcurl failed to initialise");
}

// Percent-encodes everything but unreserved characters (and '/' when keep_slash).
std::string quote(const std::string& s, bool keep_slash) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/'))
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

struct Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names, the last value seen
  std::string body;
};

// The sink of a GET's body: a string, or a file with a hash and a progress meter.
struct FileSink {
  CURL* curl = nullptr;
  uint64_t offset = 0;  // bytes already in the file (asked for with Range)
  FILE* f = nullptr;
  ContentHash* hash = nullptr;
  ProgressMeter* progress = nullptr;
  std::string detail;
  uint64_t written = 0;
  long status = 0;  // read at the first byte
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Response*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) r->headers.clear();  // a new response (after a redirect)
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon), value = line.substr(colon + 1);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) value.erase(0, 1);
    r->headers[name] = value;
  }
  return size * n;
}

size_t to_string(char* data, size_t size, size_t n, void* user) {
  static_cast<Response*>(user)->body.append(data, size * n);
  return size * n;
}

size_t to_file(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<FileSink*>(user);
  const size_t bytes = size * n;
  if (s->status == 0) curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
  // Content is a 206 continuing at the offset, or a 200 into an empty file; anything else
  // (an error page, a whole file ignoring our Range) is not written.
  if (!(s->status == 206 || (s->status == 200 && s->offset == 0))) return bytes;
  if (std::fwrite(data, 1, bytes, s->f) != bytes) return 0;
  s->hash->update(data, bytes);
  s->written += bytes;
  s->progress->add(bytes, s->detail);
  return bytes;
}

// One request. Throws Unreachable when no HTTP answer came at all.
class Request {
 public:
  Request(const std::string& url, const std::string& token) : url_(url), curl_(curl_easy_init()) {
    global_init();
    ROTOR_CHECK(curl_ != nullptr, "libcurl: cannot create a request");
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_USERAGENT, "rotor");
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(curl_, CURLOPT_LOW_SPEED_LIMIT, 1L);   // abort a transfer stalled for a minute
    curl_easy_setopt(curl_, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &response_);
    if (!token.empty()) headers_ = curl_slist_append(headers_, ("Authorization: Bearer " + token).c_str());
  }
  ~Request() {
    curl_slist_free_all(headers_);
    curl_easy_cleanup(curl_);
  }
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;

  CURL* handle() { return curl_; }
  void header(const std::string& h) { headers_ = curl_slist_append(headers_, h.c_str()); }
  // Performs; returns the curl code (CURLE_OK or a transfer error after an HTTP answer).
  CURLcode perform() {
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    const CURLcode rc = curl_easy_perform(curl_);
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &response_.status);
    if (rc != CURLE_OK && response_.status == 0)
      throw Unreachable(fmt::format("cannot reach {}: {}", url_, curl_easy_strerror(rc)));
    return rc;
  }
  Response& response() { return response_; }

 private:
  std::string url_;
  CURL* curl_;
  curl_slist* headers_ = nullptr;
  Response response_;
};

std::string strip_etag(std::string e) {
  if (e.rfind("W/", 0) == 0) e.erase(0, 2);
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  return e;
}

// The scheme://host[:port] of a URL.
std::string origin(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  return url.substr(0, url.find('/', scheme + 3));
}

void check_status(long status, const std::string& what, const std::string& repo, const std::string& endpoint) {
  if (status >= 200 && status < 400) return;
  if (status == 401 || status == 403)
    ROTOR_FAIL("hub: {} answered HTTP {} for {}: the repository is gated or private (set HF_TOKEN to a token with "
               "access to it)", endpoint, status, repo);
  if (status == 404) ROTOR_FAIL("hub: {} has no {} (HTTP 404)", endpoint, what);
  ROTOR_FAIL("hub: {} answered HTTP {} for {}", endpoint, status, what);
}

}  // namespace

HubClient::HubClient(std::string endpoint, std::string token) : endpoint_(std::move(endpoint)), token_(std::move(token)) {
  while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
}

RepoInfo HubClient::repo_info(const std::string& repo, const std::string& revision) const {
  Request r(fmt::format("{}/api/models/{}/revision/{}", endpoint_, quote(repo, true), quote(revision, false)), token_);
  curl_easy_setopt(r.handle(), CURLOPT_WRITEFUNCTION, to_string);
  curl_easy_setopt(r.handle(), CURLOPT_WRITEDATA, &r.response());
  curl_easy_setopt(r.handle(), CURLOPT_FOLLOWLOCATION, 1L);
  const CURLcode rc = r.perform();
  ROTOR_CHECK(rc == CURLE_OK, "hub: reading {}'s file list failed: {}", repo, curl_easy_strerror(rc));
  check_status(r.response().status, fmt::format("model {} at revision {}", repo, revision), repo, endpoint_);
  const auto j = nlohmann::json::parse(r.response().body, nullptr, false);
  ROTOR_CHECK(j.is_object() && j.contains("sha") && j["sha"].is_string(),
              "hub: {}'s revision info is not what the hub API returns (no \"sha\")", repo);
  RepoInfo info;
  info.commit = j["sha"].get<std::string>();
  ROTOR_CHECK(etag_kind(info.commit) == EtagKind::GitSha1, "hub: {} gave a malformed commit '{}'", repo, info.commit);
  if (j.contains("siblings") && j["siblings"].is_array())
    for (const auto& s : j["siblings"])
      if (s.is_object() && s.contains("rfilename") && s["rfilename"].is_string())
        info.files.push_back(s["rfilename"].get<std::string>());
  return info;
}

FileMeta HubClient::file_meta(const std::string& repo, const std::string& commit, const std::string& file) const {
  std::string url = fmt::format("{}/{}/resolve/{}/{}", endpoint_, quote(repo, true), commit, quote(file, true));
  for (int hop = 0; hop < 5; ++hop) {
    Request r(url, origin(url) == origin(endpoint_) ? token_ : "");
    curl_easy_setopt(r.handle(), CURLOPT_NOBODY, 1L);
    const CURLcode rc = r.perform();
    ROTOR_CHECK(rc == CURLE_OK, "hub: HEAD {} failed: {}", url, curl_easy_strerror(rc));
    const Response& resp = r.response();
    check_status(resp.status, fmt::format("file {} in {}", file, repo), repo, endpoint_);
    auto header = [&](const char* name) {
      const auto it = resp.headers.find(name);
      return it == resp.headers.end() ? std::string() : it->second;
    };
    FileMeta m;
    m.etag = strip_etag(!header("x-linked-etag").empty() ? header("x-linked-etag") : header("etag"));
    const std::string size = !header("x-linked-size").empty() ? header("x-linked-size") : header("content-length");
    m.size = size.empty() ? 0 : std::stoull(size);
    const std::string location = header("location");
    if (resp.status >= 300 && location.starts_with("/")) {  // the repository moved: follow
      url = origin(url) + location;
      continue;
    }
    m.url = resp.status >= 300 && !location.empty() ? location : url;
    ROTOR_CHECK(!m.etag.empty(), "hub: {} in {} came without an ETag (not a hub?)", file, repo);
    return m;
  }
  ROTOR_FAIL("hub: too many redirects for {} in {}", file, repo);
}

void HubClient::download(const FileMeta& meta, const std::string& file, const fs::path& part,
                         ProgressMeter& progress) const {
  const EtagKind kind = etag_kind(meta.etag);
  if (kind == EtagKind::Unknown)
    ROTOR_LOG_WARN("download {}: the hub's etag '{}' is no checksum; the content is not verified", file, meta.etag);
  std::error_code ec;
  uint64_t have = fs::exists(part) ? fs::file_size(part, ec) : 0;
  if (meta.size > 0 && have > meta.size) {
    fs::remove(part, ec);
    have = 0;
  }
  // The hash covers the bytes already there, then every byte that arrives.
  std::unique_ptr<ContentHash> hash =
      std::make_unique<ContentHash>(kind == EtagKind::Unknown ? EtagKind::Sha256 : kind, meta.size);
  if (have > 0) {
    ROTOR_LOG_INFO("download {}: resuming at {} of {}", file, ProgressMeter::bytes_str(have),
                   ProgressMeter::bytes_str(meta.size));
    FILE* f = std::fopen(part.c_str(), "rb");
    ROTOR_CHECK(f, "download {}: cannot read {}", file, part.string());
    std::vector<char> buf(1 << 20);
    for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), f)) > 0;) hash->update(buf.data(), n);
    std::fclose(f);
    progress.add(have);
  }
  for (int attempt = 0;; ++attempt) {
    if (meta.size > 0 && have == meta.size) break;
    Request r(meta.url, origin(meta.url) == origin(endpoint_) ? token_ : "");
    FileSink sink;
    sink.curl = r.handle();
    sink.offset = have;
    sink.f = std::fopen(part.c_str(), have > 0 ? "ab" : "wb");
    ROTOR_CHECK(sink.f, "download {}: cannot write {}", file, part.string());
    sink.hash = hash.get();
    sink.progress = &progress;
    sink.detail = file;
    if (have > 0) r.header(fmt::format("Range: bytes={}-", have));
    curl_easy_setopt(r.handle(), CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(r.handle(), CURLOPT_WRITEFUNCTION, to_file);
    curl_easy_setopt(r.handle(), CURLOPT_WRITEDATA, &sink);
    CURLcode rc;
    try {
      rc = r.perform();
    } catch (const Unreachable& e) {
      std::fclose(sink.f);
      if (attempt + 1 >= kRetries) throw;
      ROTOR_LOG_WARN("download {}: {}; retrying ({}/{})", file, e.what(), attempt + 1, kRetries);
      std::this_thread::sleep_for(std::chrono::seconds(attempt + 1));
      continue;
    }
    std::fclose(sink.f);
    const long status = r.response().status;
    if (status == 416 && meta.size > 0 && have == meta.size) break;
    if (status != 200 && status != 206)
      ROTOR_FAIL("download {}: {} answered HTTP {}", file, origin(meta.url), status);
    if (status == 200 && have > 0) {
      // The server ignored the Range and sent the whole file (not written): start over.
      ROTOR_LOG_WARN("download {}: the server does not resume (HTTP 200 to a Range request); starting over", file);
      fs::remove(part, ec);
      hash = std::make_unique<ContentHash>(kind == EtagKind::Unknown ? EtagKind::Sha256 : kind, meta.size);
      have = 0;
      continue;
    }
    have += sink.written;
    if (rc == CURLE_OK && (meta.size == 0 || have >= meta.size)) break;
    if (attempt + 1 >= kRetries)
      ROTOR_FAIL("download {}: the transfer broke off at {} of {} bytes {} times ({})", file, have, meta.size,
                 kRetries, curl_easy_strerror(rc));
    ROTOR_LOG_WARN("download {}: the transfer broke off at {} of {} bytes ({}); resuming ({}/{})", file, have,
                   meta.size, curl_easy_strerror(rc), attempt + 1, kRetries);
  }
  if (meta.size > 0) {
    const uint64_t on_disk = fs::file_size(part, ec);
    ROTOR_CHECK(on_disk == meta.size, "download {}: {} bytes on disk, the hub says {}", file, on_disk, meta.size);
  }
  if (kind == EtagKind::Unknown) return;
  const std::string got = hash->hex();
  if (got != meta.etag) {
    fs::remove(part, ec);
    ROTOR_FAIL("download {}: checksum mismatch: the hub names {} {}, the bytes received hash to {} (the download "
               "was deleted; run again)", file, kind == EtagKind::Sha256 ? "sha256" : "git sha1", meta.etag, got);
  }
}

}  // namespace rotor::hub
