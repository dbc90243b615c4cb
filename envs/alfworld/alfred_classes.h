// What ALFRED knows about its object classes (alfworld/gen/constants.py): which receptacle
// classes can hold which objects, and the affordances of each object class. The generator
// writes these facts into the :init of the games it makes, as ALFWorld's own games carry them.
#pragma once

#include <cstdint>
#include <string_view>

namespace rock::alfworld {

// A class that stands in a room and holds things (Cabinet, CounterTop, SinkBasin, ...).
bool IsReceptacleClass(std::string_view cls);
// Fridge, Cabinet, Microwave, Drawer, Safe, Box.
bool IsOpenableClass(std::string_view cls);
// An object class some receptacle can hold, i.e. one the agent can pick up.
bool IsPickupableClass(std::string_view cls);
bool CanContainClass(std::string_view receptacle, std::string_view object);
// ObjectTrait bits (world.h) of an object class: cleanable, heatable, ..., receptacle object.
uint16_t TraitsOfClass(std::string_view cls);

}  // namespace rock::alfworld
