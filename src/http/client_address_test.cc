#include "http/client_address.h"

#include <gtest/gtest.h>

namespace keyward::http {
namespace {

ProxyList Proxies(std::string_view text) {
  ProxyList list;
  std::string bad;
  EXPECT_TRUE(ProxyList::Parse(text, &list, &bad)) << bad;
  return list;
}

TEST(ClientAddressTest, WithoutTrustedProxiesTheHeaderIsIgnored) {
  EXPECT_EQ(ClientAddress("203.0.113.7", "198.51.100.1", ProxyList{}), "203.0.113.7");
}

TEST(ClientAddressTest, AnUntrustedPeerCannotChooseItsAddress) {
  auto trusted = Proxies("127.0.0.1");
  EXPECT_EQ(ClientAddress("203.0.113.7", "198.51.100.1", trusted), "203.0.113.7");
}

TEST(ClientAddressTest, ATrustedProxyGivesTheRightMostUntrustedHop) {
  auto trusted = Proxies("127.0.0.1, 10.0.0.0/8");
  EXPECT_EQ(ClientAddress("127.0.0.1", "198.51.100.1", trusted), "198.51.100.1");
  // The client wrote a fake first entry; the edge proxy appended the real one.
  EXPECT_EQ(ClientAddress("127.0.0.1", "1.2.3.4, 198.51.100.1", trusted), "198.51.100.1");
  // Two trusted hops (edge 10.1.2.3, then the local proxy).
  EXPECT_EQ(ClientAddress("127.0.0.1", "1.2.3.4, 198.51.100.1, 10.1.2.3", trusted), "198.51.100.1");
  EXPECT_EQ(ClientAddress("127.0.0.1", " 2001:db8::1 ", trusted), "2001:db8::1");
}

TEST(ClientAddressTest, GarbageOrOnlyProxiesKeepThePeer) {
  auto trusted = Proxies("127.0.0.1,10.0.0.0/8");
  EXPECT_EQ(ClientAddress("127.0.0.1", "not-an-ip", trusted), "127.0.0.1");
  EXPECT_EQ(ClientAddress("127.0.0.1", "10.0.0.1, 10.0.0.2", trusted), "127.0.0.1");
  EXPECT_EQ(ClientAddress("127.0.0.1", "", trusted), "127.0.0.1");
}

TEST(ClientAddressTest, CidrAndMappedAddresses) {
  auto trusted = Proxies("192.168.0.0/16 fd00::/8");
  EXPECT_TRUE(trusted.Contains("192.168.200.1"));
  EXPECT_FALSE(trusted.Contains("192.169.0.1"));
  EXPECT_TRUE(trusted.Contains("::ffff:192.168.1.1"));
  EXPECT_TRUE(trusted.Contains("fd12::1"));
  EXPECT_FALSE(trusted.Contains("fe80::1"));
  auto odd = Proxies("10.0.0.0/12");
  EXPECT_TRUE(odd.Contains("10.15.255.255"));
  EXPECT_FALSE(odd.Contains("10.16.0.0"));
}

TEST(ClientAddressTest, BadEntriesAreNamed) {
  ProxyList list;
  std::string bad;
  EXPECT_FALSE(ProxyList::Parse("127.0.0.1, nginx.local", &list, &bad));
  EXPECT_EQ(bad, "nginx.local");
  EXPECT_FALSE(ProxyList::Parse("10.0.0.0/33", &list, &bad));
  EXPECT_EQ(bad, "10.0.0.0/33");
  EXPECT_FALSE(ProxyList::Parse("10.0.0.0/", &list, &bad));
  EXPECT_TRUE(ProxyList::Parse("", &list, &bad));
  EXPECT_TRUE(list.empty());
}

}  // namespace
}  // namespace keyward::http
