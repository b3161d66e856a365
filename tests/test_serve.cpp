// digitnet-serve's library without HTTP: the predictor answers as the scorer's
// recogniser does, refuses what is not an image, and its options are checked.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "digitnet/core/error.hpp"
#include "digitnet/image/image.hpp"
#include "digitnet/score/recognise.hpp"
#include "digitnet/serve/predictor.hpp"
#include "digitnet/serve/serve.hpp"
#include "temp_dir.hpp"

namespace digitnet {
namespace {

const std::string kCheckpoint = std::string(DIGITNET_FIXTURES_DIR) + "/ckpt-v1-784-8-10.pb";
const std::string kImages = std::string(DIGITNET_FUZZ_REGRESSIONS) + "/image/";

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Predictor, AnswersAsTheRecogniser) {
  Predictor predictor(kCheckpoint, "auto", 0.8, 1);
  const ModelCheckpoint snap = model_checkpoint_load(kCheckpoint);
  Mlp model(snap.spec.shape);
  model.params() = snap.params;
  for (const char* name : {"paper-7.png", "paper-7.jpg", "mnist-7.png", "rgba-7.png"}) {
    const auto digits = recognise_preprocess(image_read(kImages + name), recognise_preprocess_options(snap.spec, "auto"), false);
    const auto probs = recognise_predict(model, snap.spec, {&digits[0].pixels});
    const nlohmann::json answer = predictor.predict(bytes_of(kImages + name), false);
    const auto order = recognise_ranked(probs.data(), 10);
    EXPECT_EQ(answer["digit"].get<uint32_t>(), order[0]) << name;
    EXPECT_EQ(answer["probability"].get<float>(), probs[order[0]]) << name;
    EXPECT_EQ(answer["top"].size(), 10u) << name;
    EXPECT_EQ(answer["pixels"].get<std::vector<uint8_t>>(), digits[0].pixels.pixels) << name;
    EXPECT_EQ(answer["uncertain"].get<bool>(), probs[order[0]] < 0.8f) << name;
  }
}

TEST(Predictor, ReadsANumberDigitByDigit) {
  Predictor predictor(kCheckpoint, "auto", 0.8, 2);
  const nlohmann::json answer = predictor.predict(bytes_of(kImages + "paper-number.png"), true);
  ASSERT_EQ(answer["digits"].size(), 3u);
  EXPECT_EQ(answer["number"].get<std::string>().size(), 3u);
  float lowest = 1;
  for (const auto& d : answer["digits"]) lowest = std::min(lowest, d["probability"].get<float>());
  EXPECT_EQ(answer["probability"].get<float>(), lowest);
}

TEST(Predictor, RefusesWhatIsNotAnImage) {
  Predictor predictor(kCheckpoint, "auto", 0.8, 1);
  for (const std::string& body : {std::string(), std::string("hello, world"), bytes_of(kImages + "paper-7.png").substr(0, 100)}) {
    try {
      predictor.predict(body, false);
      ADD_FAILURE() << "accepted " << body.size() << " bytes";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::data);
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  }
}

class PredictorDir : public test::TempDirTest {};

TEST_F(PredictorDir, DescribesTheNewestCheckpointOfADirectory) {
  std::filesystem::copy_file(kCheckpoint, path("ckpt-00000240.pb"));
  std::ofstream(path("ckpt-00000007.pb")) << "an older checkpoint, never read";
  Predictor predictor(dir_, "auto", 0.8, 1);
  EXPECT_EQ(predictor.checkpoint(), path("ckpt-00000240.pb"));
  const nlohmann::json& m = predictor.model_json();
  EXPECT_EQ(m["model"], "784-8-10");
  EXPECT_EQ(m["rows"], 28);
  EXPECT_EQ(m["step"], 240);
  EXPECT_NEAR(m["test_accuracy"].get<double>(), 0.6745, 1e-9);
}

TEST(ServeOptions, RefusesBadValues) {
  auto parse = [](std::vector<const char*> args) {
    args.insert(args.begin(), "digitnet-serve");
    return serve_options_parse(int(args.size()), args.data());
  };
  EXPECT_EQ(parse({"ckpt.pb"}).host, "127.0.0.1");
  EXPECT_EQ(parse({"ckpt.pb", "--port", "0"}).port, 0);
  for (auto bad : std::vector<std::vector<const char*>>{
           {}, {"a", "b"}, {"c", "--port", "70000"}, {"c", "--threads", "0"}, {"c", "--max-in-flight", "1", "--threads", "2"},
           {"c", "--threshold", "2"}, {"c", "--preprocess", "some"}, {"c", "--nope"}}) {
    try {
      parse(bad);
      ADD_FAILURE() << "accepted " << bad.size() << " arguments";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::usage) << e.what();
    }
  }
}

}  // namespace
}  // namespace digitnet
