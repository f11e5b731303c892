// Everything a game needs: managed objects, transactions, the server.
#pragma once

#include "starhold/channel.hpp"
#include "starhold/clock.hpp"
#include "starhold/collections.hpp"
#include "starhold/config.hpp"
#include "starhold/data.hpp"
#include "starhold/errors.hpp"
#include "starhold/fields.hpp"
#include "starhold/log.hpp"
#include "starhold/ordered_map.hpp"
#include "starhold/server.hpp"
#include "starhold/session.hpp"
#include "starhold/store.hpp"
#include "starhold/task.hpp"
