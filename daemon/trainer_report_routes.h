// GET /api/v1/trainer-reports: the trainers' stored `report` messages, for the dashboard's
// training curves after a page load or a rockd restart.
#pragma once

namespace rock {

class Router;
class Store;

// `store` must outlive the router.
void AddTrainerReportRoutes(Router& router, Store& store);

}  // namespace rock
