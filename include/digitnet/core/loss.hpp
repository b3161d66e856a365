// Softmax + cross-entropy, forward and backward in one pass.
#pragma once
#include <cstddef>
#include <cstdint>

namespace digitnet {

// logits (B, C) -> returns Σ_b cross-entropy of softmax(logits_b) against the
// target (1 - smoothing) onehot(label_b) + smoothing / C (label smoothing,
// Szegedy et al. 2016; smoothing 0: -log p[label]); writes diff_logits (B, C) =
// scale * (softmax - target) unless null, probs (B, C) unless null, and adds the
// number of rows whose argmax equals the label to *correct unless null.
double softmax_xent(const float* logits, const int32_t* labels, size_t batch, size_t classes,
                    float scale, float* diff_logits, float* probs, uint64_t* correct, float smoothing = 0.f);

}  // namespace digitnet
