#include "recs/interactions.h"

#include <gtest/gtest.h>

#include <vector>

namespace profiled::recs {
namespace {

TEST(Interactions, SortsAndDeduplicatesEachUsersItems) {
  Result<Interactions> data = Interactions::FromUserItems(5, {{3, 1, 3, 0}, {}, {4}});
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(data->num_users(), 3);
  EXPECT_EQ(data->num_items(), 5);
  EXPECT_EQ(std::vector<int32_t>(data->items_of(0).begin(), data->items_of(0).end()),
            (std::vector<int32_t>{0, 1, 3}));
  EXPECT_TRUE(data->items_of(1).empty());
  EXPECT_EQ(data->item_counts(), (std::vector<int32_t>{1, 1, 0, 1, 1}));
  EXPECT_EQ(data->size(), 4);
}

TEST(Interactions, RefusesAnItemOutsideTheItemSpace) {
  EXPECT_FALSE(Interactions::FromUserItems(3, {{0, 3}}).ok());
  EXPECT_FALSE(Interactions::FromUserItems(3, {{-1}}).ok());
  EXPECT_FALSE(Interactions::FromUserItems(-1, {}).ok());
}

}  // namespace
}  // namespace profiled::recs
