// model/architecture.h — the seam for model architectures: each supported config.json
// model_type names its checkpoint layout (the weight walk every loader, dummy weights, upload
// and the quantizer's plan share) and its forward pass. Adding an architecture is a
// model/<arch>/ folder (weights.cpp, model.cpp) and a line in architecture.cpp.
#pragma once
#include <memory>
#include <string>

#include "model/model.h"
#include "model/weights.h"

namespace rotor {

struct Architecture {
  const char* model_type;
  // Walks every weight of the model in a fixed order, sizing w.layers; slices from w.shard.
  void (*visit_weights)(const ModelConfig& config, ModelWeights& w, WeightVisitor& visitor);
  std::unique_ptr<Model> (*make_model)(const ModelConfig& config, const ModelWeights& weights, Ops& ops,
                                       Communicator& comm, const ModelLimits& limits);
};

// The architecture of a model_type; throws rotor::Error naming it when rotor has none.
const Architecture& find_architecture(const std::string& model_type);

}  // namespace rotor
