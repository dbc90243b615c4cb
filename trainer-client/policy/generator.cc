#include "trainer-client/policy/generator.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace rock::policy {

Generator::Generator(const Model& model, std::unique_ptr<Decoder> decoder, uint64_t seed)
    : model_(model), decoder_(std::move(decoder)), rng_(seed), slots_(static_cast<size_t>(decoder_->slots())) {}

StatusOr<std::unique_ptr<Generator>> Generator::Create(const Model& model, int slots, uint64_t seed) {
  auto decoder = Decoder::Create(model, slots, model.config().max_seq);
  if (!decoder.ok()) return decoder.status().WithContext("generator");
  return std::unique_ptr<Generator>(new Generator(model, std::move(decoder).value(), seed));
}

StatusOr<uint64_t> Generator::Submit(std::vector<int> prompt, SamplingParams params) {
  const ModelConfig& c = model_.config();
  if (prompt.empty() || static_cast<int>(prompt.size()) >= c.max_seq) {
    return InvalidArgument("submit: prompt of " + std::to_string(prompt.size()) + " tokens (must be 1.." +
                           std::to_string(c.max_seq - 1) + ")");
  }
  for (int t : prompt) {
    if (t < 0 || t >= c.vocab_size) return InvalidArgument("submit: token " + std::to_string(t) + " outside the vocabulary");
  }
  if (params.max_new_tokens <= 0 || !(params.top_p > 0.0f) || params.top_p > 1.0f) {
    return InvalidArgument("submit: max_new_tokens must be positive and top_p in (0, 1]");
  }
  const uint64_t id = next_id_++;
  queue_.push_back({id, std::move(prompt), params});
  return id;
}

bool Generator::idle() const {
  return queue_.empty() && std::none_of(slots_.begin(), slots_.end(), [](const Active& a) { return a.busy; });
}

int Generator::Sample(std::span<const float> logp, const SamplingParams& params) {
  const int V = static_cast<int>(logp.size());
  if (params.temperature <= 0.0f) {
    return static_cast<int>(std::max_element(logp.begin(), logp.end()) - logp.begin());
  }
  // p_i ∝ exp(logp_i / T); logp is already normalised, so subtracting its max keeps exp in range.
  const float mx = *std::max_element(logp.begin(), logp.end());
  std::vector<double> p(static_cast<size_t>(V));
  double sum = 0.0;
  for (int i = 0; i < V; i++) sum += p[static_cast<size_t>(i)] = std::exp((logp[static_cast<size_t>(i)] - mx) / params.temperature);
  std::vector<int> order(static_cast<size_t>(V));
  std::iota(order.begin(), order.end(), 0);
  // Ties broken by token id so the order (and the sample) does not depend on the sort.
  std::sort(order.begin(), order.end(), [&p](int a, int b) {
    const double pa = p[static_cast<size_t>(a)];
    const double pb = p[static_cast<size_t>(b)];
    return pa != pb ? pa > pb : a < b;
  });
  size_t keep = 0;
  double mass = 0.0;
  while (keep < order.size() && (keep == 0 || mass < params.top_p * sum)) mass += p[static_cast<size_t>(order[keep++])];
  // 53 random bits as a double in [0, 1): the same on every standard library.
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * mass;
  double acc = 0.0;
  for (size_t i = 0; i < keep; i++) {
    acc += p[static_cast<size_t>(order[i])];
    if (u < acc) return order[i];
  }
  return order[keep - 1];
}

StatusOr<std::vector<Completion>> Generator::Step() {
  const int max_seq = decoder_->max_seq();
  const int64_t step = ++steps_;
  std::vector<DecodeEntry> entries;
  // The row of Step's log-probs that samples each slot's next token: the one entry per slot
  // that asks for log-probs (a prompt's last token, or the token generated last).
  std::vector<size_t> row_of(slots_.size(), 0);
  size_t rows = 0;
  for (size_t s = 0; s < slots_.size(); s++) {
    Active& a = slots_[s];
    if (!a.busy && !queue_.empty()) {
      a = Active{};
      a.busy = true;
      a.req = std::move(queue_.front());
      queue_.pop_front();
      a.out.id = a.req.id;
      a.out.slot = static_cast<int>(s);
      a.out.first_step = step;
      for (size_t i = 0; i < a.req.prompt.size(); i++) {
        entries.push_back({static_cast<int>(s), a.len++, a.req.prompt[i], i + 1 == a.req.prompt.size()});
      }
    } else if (a.busy) {
      entries.push_back({static_cast<int>(s), a.len++, a.out.tokens.back()});
    } else {
      continue;
    }
    row_of[s] = rows++;
  }
  std::vector<Completion> done;
  if (entries.empty()) return done;
  auto logp = decoder_->Step(entries);
  if (!logp.ok()) return logp.status().WithContext("generator step " + std::to_string(step));
  const size_t V = static_cast<size_t>(model_.config().vocab_size);
  for (size_t s = 0; s < slots_.size(); s++) {
    Active& a = slots_[s];
    if (!a.busy) continue;
    std::span<const float> row(logp->data() + row_of[s] * V, V);
    const int token = Sample(row, a.req.params);
    a.out.tokens.push_back(token);
    a.out.logprobs.push_back(row[static_cast<size_t>(token)]);
    a.out.stopped = token == a.req.params.stop_token;
    // The sampled token enters the cache on the next step, so the cache must have room for it.
    const bool full = a.len >= max_seq;
    if (a.out.stopped || full || static_cast<int>(a.out.tokens.size()) >= a.req.params.max_new_tokens) {
      a.out.last_step = step;
      done.push_back(std::move(a.out));
      a.busy = false;  // the next Step hands this slot to the queue
    }
  }
  return done;
}

StatusOr<std::vector<Completion>> Generator::RunToCompletion() {
  std::vector<Completion> all;
  while (!idle()) {
    auto done = Step();
    if (!done.ok()) return done.status();
    for (Completion& c : *done) all.push_back(std::move(c));
  }
  return all;
}

StatusOr<std::vector<double>> ScoreCandidates(const Model& model, std::span<const int> prompt,
                                              std::span<const std::vector<int>> candidates) {
  const int max_seq = model.config().max_seq;
  if (prompt.empty()) return InvalidArgument("score: empty prompt");
  const int V = model.config().vocab_size;
  size_t longest = 0;
  for (size_t j = 0; j < candidates.size(); j++) {
    longest = std::max(longest, candidates[j].size());
    // Checked here: a candidate's last token only indexes the log-probs, it is never decoded.
    for (int t : candidates[j]) {
      if (t < 0 || t >= V) {
        return InvalidArgument("score: candidate " + std::to_string(j) + " has token " + std::to_string(t) +
                               " outside the vocabulary of " + std::to_string(V));
      }
    }
  }
  if (prompt.size() + longest > static_cast<size_t>(max_seq)) {
    return InvalidArgument("score: prompt (" + std::to_string(prompt.size()) + ") + longest candidate (" +
                           std::to_string(longest) + ") exceeds max_seq " + std::to_string(max_seq));
  }
  std::vector<double> scores(candidates.size(), 0.0);
  if (candidates.empty()) return scores;
  // The prompt is prefilled once, in slot 0, and its cache copied into the other slots; then
  // candidates decode only their own tokens, up to kSlots at a time. A candidate writes its
  // slot's positions from P on, so the prompt's cache stays for the next candidate in that slot.
  // 64 slots take an env's usual list of commands (ALFWorld's ~40) in one step: fewer, larger
  // steps amortize per-op overhead, and the copies are small next to the compute they save.
  constexpr size_t kSlots = 64;
  const size_t P = prompt.size();
  const size_t slots = std::min(kSlots, candidates.size());
  auto decoder = Decoder::Create(model, static_cast<int>(slots), static_cast<int>(P + longest));
  if (!decoder.ok()) return decoder.status().WithContext("score");
  std::vector<DecodeEntry> entries;
  for (size_t i = 0; i < P; i++) entries.push_back({0, static_cast<int>(i), prompt[i], i + 1 == P});
  auto prompt_logp = (*decoder)->Step(entries);
  if (!prompt_logp.ok()) return prompt_logp.status().WithContext("score: prompt");
  for (size_t s = 1; s < slots; s++) {
    if (Status st = (*decoder)->CopyPrefix(0, static_cast<int>(s), static_cast<int>(P)); !st.ok()) {
      return st.WithContext("score");
    }
  }
  // The prompt's last position, the one row asked for, predicts every candidate's first token.
  const float* first_logp = prompt_logp->data();
  for (size_t first = 0; first < candidates.size(); first += slots) {
    const size_t last = std::min(candidates.size(), first + slots);
    entries.clear();
    std::vector<size_t> start(last - first);  // each candidate's first entry
    for (size_t j = first; j < last; j++) {
      const std::vector<int>& cand = candidates[j];
      start[j - first] = entries.size();
      // Token i + 1 is predicted by the entry of token i; the last token predicts nothing needed.
      for (size_t i = 0; i + 1 < cand.size(); i++) {
        entries.push_back({static_cast<int>(j - first), static_cast<int>(P + i), cand[i]});
      }
    }
    auto logp = (*decoder)->Step(entries);
    if (!logp.ok()) return logp.status().WithContext("score");
    for (size_t j = first; j < last; j++) {
      const std::vector<int>& cand = candidates[j];
      if (cand.empty()) continue;
      scores[j] = first_logp[static_cast<size_t>(cand[0])];
      for (size_t i = 1; i < cand.size(); i++) {
        scores[j] += (*logp)[(start[j - first] + i - 1) * static_cast<size_t>(V) + static_cast<size_t>(cand[i])];
      }
    }
  }
  return scores;
}

}  // namespace rock::policy
