# keyward_test(NAME LABEL unit|e2e|pg|web SOURCES a.cc b.cc LIBS lib...)
# Builds one GoogleTest binary and registers each of its tests with ctest under
# LABEL. Tests labelled pg run against the throwaway PostgreSQL cluster (ctest
# fixture pg_cluster; tests/support/pg_test_db.h finds it through
# KEYWARD_TEST_PG_URL_FILE).
function(keyward_test name)
  cmake_parse_arguments(T "" "LABEL;TIMEOUT" "SOURCES;LIBS" ${ARGN})
  if(NOT T_LABEL)
    message(FATAL_ERROR "keyward_test(${name}) needs a LABEL")
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  # Tests include shared helpers as "tests/support/...".
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR})
  if(T_LABEL STREQUAL "pg")
    gtest_discover_tests(${name}
      PROPERTIES LABELS pg TIMEOUT ${T_TIMEOUT} FIXTURES_REQUIRED pg_cluster
                 ENVIRONMENT "KEYWARD_TEST_PG_URL_FILE=${KEYWARD_PG_CLUSTER_DIR}/url"
      DISCOVERY_TIMEOUT 60)
  else()
    gtest_discover_tests(${name}
      PROPERTIES LABELS ${T_LABEL} TIMEOUT ${T_TIMEOUT}
      DISCOVERY_TIMEOUT 60)
  endif()
endfunction()

# keyward_test_on_postgres(NAME [TIMEOUT s])
# Registers the tests of an existing end-to-end binary a second time, as
# "pg/<Suite>.<Test>" labelled pg, with KEYWARD_TEST_STORE=postgresql: every
# keywardd that tests/support/server_process.h starts then runs on a fresh
# database of the throwaway cluster instead of SQLite.
function(keyward_test_on_postgres name)
  cmake_parse_arguments(T "" "TIMEOUT" "" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  gtest_discover_tests(${name}
    TEST_PREFIX "pg/"
    TEST_LIST ${name}_PG_TESTS
    # One variable per property: gtest_discover_tests splits a property's
    # value at ';', so "A=1;B=2" set only A (the pg/ suites then ran on SQLite).
    PROPERTIES LABELS pg TIMEOUT ${T_TIMEOUT} FIXTURES_REQUIRED pg_cluster
               ENVIRONMENT "KEYWARD_TEST_PG_URL_FILE=${KEYWARD_PG_CLUSTER_DIR}/url"
               ENVIRONMENT_MODIFICATION "KEYWARD_TEST_STORE=set:postgresql"
    DISCOVERY_TIMEOUT 60)
endfunction()
