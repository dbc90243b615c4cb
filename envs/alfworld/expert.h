// An oracle expert for the six task types: it sees the whole state (where every object is), so
// it walks straight to a target object, transforms it, and places it. It plans from whatever
// state the engine is in, so it also finishes episodes that a random prefix has disturbed.
#pragma once

#include <string>
#include <vector>

#include "envs/alfworld/engine.h"

namespace rock::alfworld {

// The expert's next command; "" when the goal already holds or the game's goal is of no shape
// the expert knows (Game::spec is nullopt) or cannot be reached from here.
std::string ExpertCommand(const Engine& engine);

// Plays ExpertCommand until the game is won, the expert gives up, or `max_steps` commands have
// been played; returns the commands played.
std::vector<std::string> RunExpert(Engine& engine, int max_steps);

}  // namespace rock::alfworld
