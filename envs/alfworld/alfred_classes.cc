#include "envs/alfworld/alfred_classes.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "envs/alfworld/world.h"

namespace rock::alfworld {
namespace {

// VAL_RECEPTACLE_OBJECTS without the *Sliced classes (sliced objects are not separate objects
// in ALFWorld's text games) and without the movable receptacles (Pot, Pan, Bowl, Mug, Plate,
// Cup, Box): they hold things in THOR, but the text game never puts anything into them.
constexpr std::pair<std::string_view, std::string_view> kContains[] = {
    {"CoffeeMachine", "Mug"},
    {"Microwave", "Apple Bowl Bread Cup Egg Glassbottle Mug Plate Potato Tomato"},
    {"StoveBurner", "Kettle Pan Pot"},
    {"Fridge",
     "Apple Bowl Bread Cup Egg Glassbottle Lettuce Mug Pan Plate Pot Potato Tomato "
     "WineBottle"},
    {"Sofa",
     "BasketBall Book Box CellPhone Cloth CreditCard KeyChain Laptop Newspaper Pillow "
     "RemoteControl"},
    {"ArmChair",
     "BasketBall Book Box CellPhone Cloth CreditCard KeyChain Laptop Newspaper Pillow "
     "RemoteControl"},
    {"Ottoman",
     "BasketBall Book Box CellPhone Cloth CreditCard KeyChain Laptop Newspaper Pillow "
     "RemoteControl"},
    {"Dresser",
     "AlarmClock BasketBall Book Bowl Box Candle CD CellPhone Cloth CreditCard Cup "
     "Glassbottle KeyChain Laptop Mug Newspaper Pen Pencil Plate RemoteControl "
     "SprayBottle Statue TennisRacket TissueBox ToiletPaper ToiletPaperRoll Vase Watch "
     "WateringCan WineBottle"},
    {"LaundryHamper", "Cloth"},
    {"Desk",
     "AlarmClock BasketBall Book Bowl Box Candle CD CellPhone Cloth CreditCard Cup "
     "Glassbottle KeyChain Laptop Mug Newspaper Pen Pencil Plate RemoteControl SoapBottle "
     "SprayBottle Statue TennisRacket TissueBox ToiletPaper ToiletPaperRoll Vase Watch "
     "WateringCan WineBottle"},
    {"Bed", "BaseballBat BasketBall Book CellPhone Laptop Newspaper Pillow TennisRacket"},
    {"Toilet",
     "Candle Cloth DishSponge Newspaper PaperTowel SoapBar SoapBottle SprayBottle "
     "TissueBox ToiletPaper ToiletPaperRoll HandTowel"},
    {"ToiletPaperHanger", "ToiletPaper ToiletPaperRoll"},
    {"TowelHolder", "Towel"},
    {"HandTowelHolder", "HandTowel"},
    {"Cart",
     "Candle Cloth DishSponge Mug PaperTowel Plunger SoapBar SoapBottle SprayBottle Statue "
     "TissueBox ToiletPaper ToiletPaperRoll Vase HandTowel"},
    {"BathtubBasin", "Cloth DishSponge SoapBar HandTowel"},
    {"SinkBasin",
     "Apple Bowl ButterKnife Cloth Cup DishSponge Egg Glassbottle Fork Kettle Knife "
     "Ladle Lettuce Mug Pan Plate Pot Potato SoapBar Spatula Spoon Tomato HandTowel"},
    {"Cabinet",
     "Book Bowl Box Candle CD Cloth Cup DishSponge Glassbottle Kettle Ladle Mug "
     "Newspaper Pan PepperShaker Plate Plunger Pot SaltShaker SoapBar SoapBottle "
     "SprayBottle TissueBox ToiletPaper ToiletPaperRoll Vase WateringCan WineBottle "
     "HandTowel"},
    {"TableTop",
     "AlarmClock Apple BaseballBat BasketBall Book Bowl Box Bread ButterKnife Candle CD "
     "CellPhone Cloth CreditCard Cup DishSponge Glassbottle Egg Fork Kettle KeyChain "
     "Knife Ladle Laptop Lettuce Mug Newspaper Pan PaperTowel Pen Pencil PepperShaker "
     "Plate Pot Potato RemoteControl SaltShaker SoapBar SoapBottle Spatula Spoon "
     "SprayBottle Statue TennisRacket TissueBox ToiletPaper ToiletPaperRoll Tomato "
     "Vase Watch WateringCan WineBottle HandTowel"},
    {"Shelf",
     "AlarmClock Book Bowl Box Candle CD CellPhone Cloth CreditCard Cup DishSponge "
     "Glassbottle Kettle KeyChain Mug Newspaper PaperTowel Pen Pencil PepperShaker Plate "
     "Pot RemoteControl SaltShaker SoapBar SoapBottle SprayBottle Statue TissueBox "
     "ToiletPaper ToiletPaperRoll Vase Watch WateringCan WineBottle HandTowel"},
    {"Drawer",
     "Book ButterKnife Candle CD CellPhone Cloth CreditCard DishSponge Fork KeyChain Knife "
     "Ladle Newspaper Pen Pencil PepperShaker RemoteControl SaltShaker SoapBar SoapBottle "
     "Spatula Spoon SprayBottle TissueBox ToiletPaper ToiletPaperRoll Watch WateringCan "
     "HandTowel"},
    {"GarbageCan",
     "Apple Bread CD Cloth DishSponge Egg Lettuce Newspaper PaperTowel Pen Pencil "
     "Potato SoapBar SoapBottle SprayBottle TissueBox ToiletPaper ToiletPaperRoll "
     "Tomato WineBottle HandTowel"},
    {"Safe", "CD CellPhone CreditCard KeyChain Statue Vase Watch"},
    {"TVStand", "TissueBox"},
    {"Toaster", ""},  // holds only BreadSliced
};

// DiningTable, CoffeeTable and SideTable share the TableTop list in constants.py.
constexpr std::string_view kTableTops[] = {"DiningTable", "CoffeeTable", "SideTable", "CounterTop"};
constexpr std::string_view kMovable[] = {"Bowl", "Box", "Cup", "Mug", "Plate", "Pan", "Pot"};
constexpr std::string_view kOpenable[] = {"Fridge", "Cabinet", "Microwave",
                                          "Drawer", "Safe",    "Box"};

constexpr std::pair<ObjectTrait, std::string_view> kTraits[] = {
    {kHeatable, "Apple Bread Cup Egg Mug Plate Potato Tomato"},
    {kCoolable, "Apple Bowl Bread Cup Egg Lettuce Mug Pan Plate Pot Potato Tomato WineBottle"},
    {kCleanable,
     "Apple Bowl ButterKnife Cloth Cup DishSponge Egg Fork Kettle Knife Ladle Lettuce "
     "Mug Pan Plate Pot Potato SoapBar Spatula Spoon Tomato"},
    {kToggleable, "DeskLamp FloorLamp"},
    {kSliceable, "Apple Bread Egg Lettuce Potato Tomato"},
};

std::set<std::string, std::less<>> Words(std::string_view list) {
  std::set<std::string, std::less<>> out;
  size_t i = 0;
  while (i < list.size()) {
    size_t j = list.find(' ', i);
    if (j == std::string_view::npos) j = list.size();
    if (j > i) out.emplace(list.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

struct Tables {
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> contains;
  std::set<std::string, std::less<>> pickupable;
  std::map<std::string, uint16_t, std::less<>> traits;
};

const Tables& Get() {
  static const Tables tables = [] {
    Tables t;
    for (const auto& [recep, objects] : kContains) {
      std::string_view r = recep;
      auto words = Words(objects);
      if (r == "TableTop") {
        // CounterTop has its own list in constants.py, equal to TableTop's.
        for (std::string_view table : kTableTops) t.contains[std::string(table)] = words;
        continue;
      }
      t.contains[std::string(r)] = words;
    }
    for (const auto& [recep, objects] : t.contains) {
      t.pickupable.insert(objects.begin(), objects.end());
    }
    for (const auto& [trait, classes] : kTraits) {
      for (const std::string& c : Words(classes)) t.traits[c] |= trait;
    }
    for (std::string_view m : kMovable) t.traits[std::string(m)] |= kReceptacleObject;
    return t;
  }();
  return tables;
}

template <size_t N>
bool OneOf(const std::string_view (&list)[N], std::string_view cls) {
  return std::find(std::begin(list), std::end(list), cls) != std::end(list);
}

}  // namespace

bool IsReceptacleClass(std::string_view cls) { return Get().contains.count(cls) > 0; }

bool IsOpenableClass(std::string_view cls) { return OneOf(kOpenable, cls); }

bool IsPickupableClass(std::string_view cls) { return Get().pickupable.count(cls) > 0; }

bool CanContainClass(std::string_view receptacle, std::string_view object) {
  auto it = Get().contains.find(receptacle);
  return it != Get().contains.end() && it->second.count(object) > 0;
}

uint16_t TraitsOfClass(std::string_view cls) {
  auto it = Get().traits.find(cls);
  uint16_t traits = it == Get().traits.end() ? 0 : it->second;
  if (IsPickupableClass(cls)) traits |= kPickupable;
  return traits;
}

}  // namespace rock::alfworld
