(define (problem plan_trial_T1)
(:domain alfred)
(:objects
agent1 - agent
        CD_bar__plus_00_dot_10 - object
        DeskLamp_bar__plus_00_dot_20 - object
        Desk_bar__plus_00_dot_30 - receptacle
        loc_bar_1_bar_2 loc_bar_3_bar_4 - location
        )
(:init
        (= (total-cost) 0)
        (objectType CD_bar__plus_00_dot_10 CDType)
        (objectType DeskLamp_bar__plus_00_dot_20 DeskLampType)
        (toggleable DeskLamp_bar__plus_00_dot_20)
        (pickupable CD_bar__plus_00_dot_10)
        (inReceptacle CD_bar__plus_00_dot_10 Desk_bar__plus_00_dot_30)
        (inReceptacle DeskLamp_bar__plus_00_dot_20 Desk_bar__plus_00_dot_30)
        (receptacleAtLocation Desk_bar__plus_00_dot_30 loc_bar_1_bar_2)
        (atLocation agent1 loc_bar_3_bar_4)
        )
(:goal
     (and
         (exists (?ot - object ?r - receptacle ?a - agent ?l - location)
             (and (objectType ?ot DeskLampType) (toggleable ?ot) (isToggled ?ot)
                  (receptacleAtLocation ?r ?l) (atLocation ?a ?l) (inReceptacle ?ot ?r)))
         (forall (?re - receptacle) (or (not (opened ?re)) (imply (openable ?re) (= ?re ?re))))
         (exists (?o - object ?a - agent) (and (objectType ?o CDType) (holds ?a ?o)))))
)
