// A small kitchen written by hand for tests whose expected texts are worked out from
// alfred.twl2 by hand, not recorded from the engine.
//
//   start: loc_bar__minus_4_bar_0_bar_2_bar_30 (no receptacle: "middle of a room")
//   countertop 1 and drawer 1 share a location; fridge 1, microwave 1, sinkbasin 1, cabinet 1
//   countertop 1: apple 2 (id ..._minus_...), apple 1 (id ..._plus_...), desklamp 1
//   drawer 1 (closed): knife 1        fridge 1 (closed): mug 1        cabinet 1: nothing
//   task: put a hot apple in fridge
#pragma once

#include <memory>
#include <string>

#include "envs/alfworld/game.h"
#include "envs/alfworld/pddl/pddl.h"
#include "envs/alfworld/task.h"

namespace rock::alfworld::testing {

inline constexpr char kApple1[] =
    "Apple_bar__plus_00_dot_40_bar__plus_01_dot_00_bar__minus_01_dot_00";
inline constexpr char kApple2[] =
    "Apple_bar__minus_00_dot_20_bar__plus_01_dot_00_bar__minus_01_dot_00";
inline constexpr char kKnife[] =
    "Knife_bar__plus_00_dot_60_bar__plus_00_dot_75_bar__minus_01_dot_00";
inline constexpr char kMug[] = "Mug_bar__minus_01_dot_00_bar__plus_01_dot_00_bar__minus_02_dot_00";
inline constexpr char kLamp[] =
    "DeskLamp_bar__plus_00_dot_10_bar__plus_01_dot_00_bar__minus_01_dot_00";
inline constexpr char kCounter[] =
    "CounterTop_bar__plus_00_dot_50_bar__plus_00_dot_95_bar__minus_01_dot_00";
inline constexpr char kDrawer[] =
    "Drawer_bar__plus_00_dot_50_bar__plus_00_dot_70_bar__minus_01_dot_00";
inline constexpr char kFridge[] =
    "Fridge_bar__minus_01_dot_00_bar__plus_00_dot_00_bar__minus_02_dot_00";
inline constexpr char kMicrowave[] =
    "Microwave_bar__plus_01_dot_00_bar__plus_00_dot_90_bar__minus_02_dot_00";
inline constexpr char kSink[] =
    "Sink_bar__plus_02_dot_00_bar__plus_00_dot_90_bar__minus_02_dot_00_bar_SinkBasin";
inline constexpr char kCabinet[] =
    "Cabinet_bar__minus_02_dot_00_bar__plus_02_dot_00_bar__minus_01_dot_00";

// Location ids in sorted order get numbers 6..1 ("loc 6" is the counter's and drawer's).
inline constexpr char kLocCounter[] = "loc_bar_2_bar__minus_4_bar_2_bar_30";         // loc 6
inline constexpr char kLocMicrowave[] = "loc_bar_4_bar__minus_6_bar_2_bar_45";       // loc 5
inline constexpr char kLocSink[] = "loc_bar_8_bar__minus_6_bar_2_bar_45";            // loc 4
inline constexpr char kLocStart[] = "loc_bar__minus_4_bar_0_bar_2_bar_30";           // loc 3
inline constexpr char kLocFridge[] = "loc_bar__minus_4_bar__minus_6_bar_2_bar_60";   // loc 2
inline constexpr char kLocCabinet[] = "loc_bar__minus_8_bar__minus_4_bar_3_bar_30";  // loc 1

inline pddl::Problem HandKitchenProblem(TaskSpec spec = {TaskType::kPickHeatThenPlace, "Apple",
                                                         "Fridge", ""}) {
  pddl::Problem p;
  p.name = "hand_kitchen";
  p.domain = "alfred";
  auto add = [&](std::string pred, std::vector<std::string> args) {
    p.init.push_back({std::move(pred), std::move(args)});
  };
  add("atLocation", {"agent1", kLocStart});
  struct R {
    const char* id;
    const char* type;
    const char* loc;
    bool openable;
  };
  for (const R& r :
       {R{kCounter, "CounterTopType", kLocCounter, false},
        R{kDrawer, "DrawerType", kLocCounter, true}, R{kFridge, "FridgeType", kLocFridge, true},
        R{kMicrowave, "MicrowaveType", kLocMicrowave, true},
        R{kSink, "SinkBasinType", kLocSink, false},
        R{kCabinet, "CabinetType", kLocCabinet, true}}) {
    add("receptacleType", {r.id, r.type});
    add("receptacleAtLocation", {r.id, r.loc});
    if (r.openable) add("openable", {r.id});
  }
  struct O {
    const char* id;
    const char* type;
    const char* in;
    const char* loc;
    std::vector<std::string> traits;
  };
  for (const O& o :
       {O{kApple1,
          "AppleType",
          kCounter,
          kLocCounter,
          {"pickupable", "heatable", "coolable", "cleanable", "sliceable"}},
        O{kApple2,
          "AppleType",
          kCounter,
          kLocCounter,
          {"pickupable", "heatable", "coolable", "cleanable", "sliceable"}},
        O{kLamp, "DeskLampType", kCounter, kLocCounter, {"toggleable"}},
        O{kKnife, "KnifeType", kDrawer, kLocCounter, {"pickupable", "cleanable"}},
        O{kMug,
          "MugType",
          kFridge,
          kLocFridge,
          {"pickupable", "heatable", "coolable", "cleanable", "isReceptacleObject"}}}) {
    add("objectType", {o.id, o.type});
    add("inReceptacle", {o.id, o.in});
    add("objectAtLocation", {o.id, o.loc});
    for (const std::string& t : o.traits) add(t, {o.id});
  }
  for (const char* obj : {"AppleType", "KnifeType", "MugType"}) {
    add("canContain", {"CounterTopType", obj});
    add("canContain", {"SinkBasinType", obj});
  }
  for (const char* obj : {"AppleType", "MugType"}) {
    add("canContain", {"FridgeType", obj});
    add("canContain", {"MicrowaveType", obj});
  }
  add("canContain", {"DrawerType", "KnifeType"});
  add("canContain", {"CabinetType", "MugType"});
  p.goal = GoalFormula(spec);
  return p;
}

inline std::shared_ptr<const Game> HandKitchen(TaskSpec spec = {TaskType::kPickHeatThenPlace,
                                                                "Apple", "Fridge", ""}) {
  auto game = MakeGame(HandKitchenProblem(spec), "hand_kitchen", TaskText(spec, 0));
  return game.ok() ? *game : nullptr;
}

}  // namespace rock::alfworld::testing
