// GET /api/v1/trajectories: the stored trajectories of the trainer stream, in seq order, as one
// JSON document or (format=jsonl) one trajectory per line, for export and audits.
#pragma once

namespace rock {

class Router;
class Store;

// `store` must outlive the router.
void AddTrajectoryRoutes(Router& router, Store& store);

}  // namespace rock
