// Network: population layout, fan-out tables built from projections, and validation (ConfigError).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "neuroemu/errors.hpp"
#include "neuroemu/network.hpp"
#include "test_helpers.hpp"

using neuroemu::ConfigError;
using neuroemu::FanOut;
using neuroemu::Network;
using neuroemu::NeuronParameters;
using neuroemu::Projection;
using neuroemu_test::dense_projection;
using neuroemu_test::list_projection;
using neuroemu_test::uniform_params;

namespace {

using Row = std::vector<std::pair<int32_t, double>>;

Row row_of(const FanOut& f) {
    Row r;
    for (int64_t s = 0; s < f.size; ++s) r.emplace_back(f.targets[s], f.weight(s));
    return r;
}

}  // namespace

TEST_SUITE("network") {

TEST_CASE("population offsets, sizes and the output population") {
    const Network net(3, {2, 4, 1}, uniform_params(7), {});
    CHECK(net.n_inputs() == 3);
    CHECK(net.n_neurons() == 7);
    CHECK(net.n_populations() == 3);
    CHECK(net.population_size(1) == 4);
    CHECK(net.population_offset(0) == 0);
    CHECK(net.population_offset(1) == 2);
    CHECK(net.population_offset(2) == 6);
    CHECK(net.population_offset(3) == 7);
    CHECK(net.output_offset() == 6);
    CHECK(net.n_outputs() == 1);
    const int32_t expected_population[] = {0, 0, 1, 1, 1, 1, 2};
    for (int32_t i = 0; i < 7; ++i) CHECK(net.population_of(i) == expected_population[i]);
    CHECK(net.n_synapses() == 0);
    CHECK(net.input_fanout().row(2).size == 0);
    CHECK(net.neuron_fanout().row(6).size == 0);
}

TEST_CASE("fan-out rows are sorted by global target, zero weights are dropped") {
    // 2 inputs -> population 0 (2 neurons) -> population 1 (3 neurons); input -> population 1 too.
    // The input projection onto population 1 comes first so that rows need sorting across projections.
    const Projection in_to_1 = dense_projection(-1, 1, {{0.5, 0.0}, {0.0, 0.0}, {-1.5, 2.5}}, true);
    const Projection in_to_0 = dense_projection(-1, 0, {{1.0, 0.0}, {2.0, 3.0}}, true);
    // Within one projection, a row given in descending target order.
    const Projection p0_to_1 = list_projection(0, 1, {{{2, 0.25}, {0, 0.75}, {1, 0.0}}, {{1, -4.0}}});
    const Network net(2, {2, 3}, uniform_params(5), {in_to_1, in_to_0, p0_to_1});

    CHECK(row_of(net.input_fanout().row(0)) == Row{{0, 1.0}, {1, 2.0}, {2, 0.5}, {4, -1.5}});
    CHECK(row_of(net.input_fanout().row(1)) == Row{{1, 3.0}, {4, 2.5}});
    CHECK(row_of(net.neuron_fanout().row(0)) == Row{{2, 0.75}, {4, 0.25}});
    CHECK(row_of(net.neuron_fanout().row(1)) == Row{{3, -4.0}});
    for (int32_t i = 2; i < 5; ++i) CHECK(net.neuron_fanout().row(i).size == 0);
    CHECK(net.input_fanout().n_synapses() == 6);
    CHECK(net.neuron_fanout().n_synapses() == 3);
    CHECK(net.n_synapses() == 9);
}

TEST_CASE("repeated (source, target) pairs keep projection order") {
    const Projection a = list_projection(-1, 0, {{{1, 1.0}, {0, 2.0}}});
    const Projection b = list_projection(-1, 0, {{{0, 3.0}}});
    const Network net(1, {2}, uniform_params(2), {a, b});
    CHECK(row_of(net.input_fanout().row(0)) == Row{{0, 2.0}, {0, 3.0}, {1, 1.0}});
}

TEST_CASE("row_range selects the synapses onto a target range") {
    // Population 0 (1 neuron) projects onto populations 1 (2 neurons), 2 (2 neurons) and onto itself.
    const Projection to1 = dense_projection(0, 1, {{1.0}, {2.0}});
    const Projection to2 = dense_projection(0, 2, {{3.0}, {0.0}});
    const Projection self = dense_projection(0, 0, {{4.0}});
    const Network net(1, {1, 2, 2}, uniform_params(5), {to2, self, to1});
    const auto& fan = net.neuron_fanout();
    CHECK(row_of(fan.row(0)) == Row{{0, 4.0}, {1, 1.0}, {2, 2.0}, {3, 3.0}});
    CHECK(row_of(fan.row_range(0, 0, 1)) == Row{{0, 4.0}});
    CHECK(row_of(fan.row_range(0, 1, 3)) == Row{{1, 1.0}, {2, 2.0}});
    CHECK(row_of(fan.row_range(0, 3, 5)) == Row{{3, 3.0}});
    CHECK(row_of(fan.row_range(0, 1, 5)) == Row{{1, 1.0}, {2, 2.0}, {3, 3.0}});
    CHECK(fan.row_range(0, 4, 5).size == 0);
    CHECK(fan.row_range(1, 0, 5).size == 0);
    // The weights pointer of a range is aligned with its targets pointer.
    const FanOut r = fan.row_range(0, 3, 5);
    REQUIRE(r.size == 1);
    CHECK(r.targets[0] == 3);
    CHECK(r.weight(0) == 3.0);
}

TEST_CASE("a contiguous row knows its first target, also when cut by row_range") {
    const Network net(1, {1, 4}, uniform_params(5),
                      {dense_projection(0, 1, {{1.0}, {2.0}, {3.0}, {4.0}}), dense_projection(-1, 0, {{1.0}})});
    const auto& fan = net.neuron_fanout();
    CHECK(fan.row(0).first == 1);
    const FanOut middle = fan.row_range(0, 2, 4);
    CHECK(middle.first == 2);
    CHECK(row_of(middle) == Row{{2, 2.0}, {3, 3.0}});
    CHECK(fan.row_range(0, 0, 1).first == -1);  // empty
    CHECK(fan.row_range(0, 7, 9).size == 0);
    CHECK(row_of(fan.row_range(0, 0, 100)) == Row{{1, 1.0}, {2, 2.0}, {3, 3.0}, {4, 4.0}});
    const Network gap(1, {3}, uniform_params(3), {dense_projection(-1, 0, {{1.0}, {0.0}, {2.0}})});
    CHECK(gap.input_fanout().row(0).first == -1);  // targets 0 and 2: not contiguous
}

TEST_CASE("weights that are all exactly floats are kept as floats; any other weight keeps doubles") {
    const Network exact(1, {2}, uniform_params(2), {dense_projection(-1, 0, {{0.5}, {-3.25}})});
    const FanOut f = exact.input_fanout().row(0);
    CHECK(f.weights32 != nullptr);
    CHECK(f.weights == nullptr);
    CHECK(row_of(f) == Row{{0, 0.5}, {1, -3.25}});
    const Network precise(1, {2}, uniform_params(2), {dense_projection(-1, 0, {{0.5}, {0.1}})});
    const FanOut g = precise.input_fanout().row(0);
    CHECK(g.weights32 == nullptr);
    CHECK(row_of(g) == Row{{0, 0.5}, {1, 0.1}});  // 0.1 is not a float: kept exactly
    const Network huge(1, {1}, uniform_params(1), {dense_projection(-1, 0, {{1e300}})});
    CHECK(huge.input_fanout().row(0).weights32 == nullptr);
}

TEST_CASE("a table of identical contiguous float rows is a dense block; any other table is not") {
    // inputs 0, 1 -> population 1 (neurons 2..4): every row covers [2, 5), row s at s * 3
    const Network dense(2, {2, 3}, uniform_params(5),
                        {dense_projection(-1, 1, {{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}})});
    const auto& table = dense.input_fanout();
    CHECK(table.dense_width() == 3);
    CHECK(table.dense_first() == 2);
    CHECK(table.dense_weights()[1 * 3 + 2] == 6.0f);  // source 1, third target
    const Network gap(2, {3}, uniform_params(3), {dense_projection(-1, 0, {{1.0, 1.0}, {0.0, 1.0}, {2.0, 1.0}})});
    CHECK(gap.input_fanout().dense_width() == -1);  // row 0 skips target 1 (a zero weight)
    const Network precise(1, {2}, uniform_params(2), {dense_projection(-1, 0, {{0.5}, {0.1}})});
    CHECK(precise.input_fanout().dense_width() == -1);  // weights kept as doubles
    const Network no_input(1, {1, 2}, uniform_params(3),
                           {dense_projection(0, 1, {{1.0}, {2.0}}), dense_projection(-1, 0, {{1.0}})});
    CHECK(no_input.input_fanout().dense_width() == 1);
    CHECK(no_input.neuron_fanout().dense_width() == -1);  // neuron 0 reaches 1..2, neurons 1 and 2 nothing
}

TEST_CASE("biased_neurons lists the neurons with a non-zero bias, ascending") {
    NeuronParameters p = uniform_params(6);
    p.bias = {0.0, 0.5, 0.0, -0.25, 0.0, -0.0};
    const Network net(1, {3, 3}, p, {});
    CHECK(net.biased_neurons() == std::vector<int32_t>{1, 3});
    const Network none(1, {2}, uniform_params(2), {});
    CHECK(none.biased_neurons().empty());
}

TEST_CASE("invalid sizes raise ConfigError") {
    CHECK_THROWS_AS(Network(0, {1}, uniform_params(1), {}), ConfigError);
    CHECK_THROWS_AS(Network(1, {}, uniform_params(0), {}), ConfigError);
    CHECK_THROWS_AS(Network(1, {2, 0}, uniform_params(2), {}), ConfigError);
    CHECK_THROWS_AS(Network(1, {2, -1}, uniform_params(1), {}), ConfigError);
    for (int field = 0; field < 5; ++field) {
        CAPTURE(field);
        NeuronParameters p = uniform_params(3);
        switch (field) {
            case 0: p.threshold.pop_back(); break;
            case 1: p.beta.push_back(1.0); break;
            case 2: p.bias.pop_back(); break;
            case 3: p.subtract_reset.clear(); break;
            default: p.refractory.push_back(0); break;
        }
        CHECK_THROWS_AS(Network(1, {3}, p, {}), ConfigError);
    }
}

TEST_CASE("invalid neuron parameters raise ConfigError") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    auto with = [](auto&& edit) {
        NeuronParameters p = uniform_params(2);
        edit(p);
        return p;
    };
    for (const double theta : {0.0, -0.0, -1.0, nan, inf}) {
        CAPTURE(theta);
        CHECK_THROWS_AS(Network(1, {2}, with([&](NeuronParameters& p) { p.threshold[1] = theta; }), {}), ConfigError);
    }
    for (const double beta : {-0.01, 1.01, nan, inf, -inf}) {
        CAPTURE(beta);
        CHECK_THROWS_AS(Network(1, {2}, with([&](NeuronParameters& p) { p.beta[0] = beta; }), {}), ConfigError);
    }
    for (const double bias : {nan, inf, -inf}) {
        CAPTURE(bias);
        CHECK_THROWS_AS(Network(1, {2}, with([&](NeuronParameters& p) { p.bias[1] = bias; }), {}), ConfigError);
    }
    // The closed interval's ends and tiny thresholds are fine.
    CHECK_NOTHROW(Network(1, {2}, with([](NeuronParameters& p) { p.beta = {0.0, 1.0}; }), {}));
    CHECK_NOTHROW(Network(1, {2}, with([](NeuronParameters& p) { p.threshold = {1e-300, 1e300}; }), {}));
}

TEST_CASE("invalid projections raise ConfigError") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    // 2 inputs, populations of 2 and 3 neurons; population 1 is the output population.
    auto build = [](const Projection& p) { return Network(2, {2, 3}, uniform_params(5), {p}); };
    const Projection good = dense_projection(-1, 0, {{1.0, 2.0}, {3.0, 4.0}});
    CHECK_NOTHROW(build(good));
    CHECK_NOTHROW(build(dense_projection(0, 1, {{1.0, 0.0}, {0.0, 1.0}, {1.0, 1.0}})));
    CHECK_NOTHROW(build(dense_projection(0, 0, {{0.0, 1.0}, {1.0, 0.0}})));

    SUBCASE("populations that do not exist") {
        Projection p = good;
        p.source = -2;
        CHECK_THROWS_AS(build(p), ConfigError);
        p = good;
        p.target = 2;
        CHECK_THROWS_AS(build(p), ConfigError);
        p = good;
        p.target = -1;
        CHECK_THROWS_AS(build(p), ConfigError);
        p = dense_projection(2, 0, {{1.0}, {1.0}});
        CHECK_THROWS_AS(build(p), ConfigError);
    }
    SUBCASE("a projection from the output population") {
        CHECK_THROWS_AS(build(dense_projection(1, 0, {{1.0, 1.0, 1.0}, {1.0, 1.0, 1.0}})), ConfigError);
        CHECK_THROWS_AS(build(dense_projection(1, 1, std::vector<std::vector<double>>(3, {0.0, 0.0, 0.0}))),
                        ConfigError);
    }
    SUBCASE("inconsistent CSR arrays") {
        Projection p = good;
        p.indptr.pop_back();  // one row short
        CHECK_THROWS_AS(build(p), ConfigError);
        p = good;
        p.indptr.push_back(p.indptr.back());  // one row too many
        CHECK_THROWS_AS(build(p), ConfigError);
        p = good;
        p.indptr.front() = 1;
        CHECK_THROWS_AS(build(p), ConfigError);
        p = good;
        p.indptr.back() = 3;
        CHECK_THROWS_AS(build(p), ConfigError);
        p = good;
        p.weights.pop_back();
        CHECK_THROWS_AS(build(p), ConfigError);
        p = good;
        p.indptr = {0, 3, 4};  // fine
        CHECK_NOTHROW(build(p));
        p.indptr = {0, 5, 4};  // the ends are consistent, but the rows are not non-decreasing
        CHECK_THROWS_AS(build(p), ConfigError);
    }
    SUBCASE("target index out of range") {
        Projection p = good;
        p.indices[2] = 2;  // population 0 has 2 neurons
        CHECK_THROWS_AS(build(p), ConfigError);
        p = good;
        p.indices[0] = -1;
        CHECK_THROWS_AS(build(p), ConfigError);
        p = dense_projection(0, 1, {{1.0, 0.0}, {0.0, 1.0}, {1.0, 1.0}});
        p.indices.back() = 3;
        CHECK_THROWS_AS(build(p), ConfigError);
    }
    SUBCASE("non-finite weights") {
        for (const double w : {nan, inf, -inf}) {
            CAPTURE(w);
            Projection p = good;
            p.weights[1] = w;
            CHECK_THROWS_AS(build(p), ConfigError);
        }
    }
    SUBCASE("ConfigError is an std::invalid_argument") {
        Projection p = good;
        p.weights[0] = nan;
        CHECK_THROWS_AS(build(p), std::invalid_argument);
    }
}

}  // TEST_SUITE
