#include "core/deferred.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace keyward::core {
namespace {

TEST(DeferredTest, RunsTasksInOrderOnAnotherThreadAfterPost) {
  Deferred deferred;
  std::vector<int> seen;
  std::atomic<bool> other_thread{true};
  const auto caller = std::this_thread::get_id();
  for (int i = 0; i < 50; ++i) {
    deferred.Post([&, i] {
      if (std::this_thread::get_id() == caller) other_thread = false;
      seen.push_back(i);
    });
  }
  deferred.WaitIdle();
  ASSERT_EQ(seen.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(seen[i], i);
  EXPECT_TRUE(other_thread);
}

TEST(DeferredTest, PostNeverWaitsForTheTask) {
  Deferred deferred;
  std::atomic<bool> release{false};
  std::atomic<bool> ran{false};
  const auto start = std::chrono::steady_clock::now();
  deferred.Post([&] {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ran = true;
  });
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_FALSE(ran);
  release = true;
  deferred.WaitIdle();
  EXPECT_TRUE(ran);
}

TEST(DeferredTest, StopRunsWhatIsQueuedThenDropsLaterPosts) {
  std::atomic<int> runs{0};
  {
    Deferred deferred;
    for (int i = 0; i < 10; ++i) deferred.Post([&] { ++runs; });
    deferred.Stop();
    EXPECT_EQ(runs, 10);
    deferred.Post([&] { ++runs; });
    deferred.WaitIdle();
  }  // the destructor after Stop is fine
  EXPECT_EQ(runs, 10);
}

TEST(DeferredTest, OverCapacityTasksAreDropped) {
  Deferred deferred(/*capacity=*/1);
  std::atomic<bool> started{false};
  std::atomic<bool> release{false};
  std::atomic<int> runs{0};
  deferred.Post([&] {
    started = true;
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ++runs;
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (int i = 0; i < 3; ++i) deferred.Post([&] { ++runs; });  // one queued, two dropped
  release = true;
  deferred.WaitIdle();
  EXPECT_EQ(runs, 2);
}

}  // namespace
}  // namespace keyward::core
